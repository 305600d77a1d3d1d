package application

import (
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// appMemory is what the controller remembers of one Application between its reconciles, kept
// in Controller.memory under Controller.mu. Forgetting an Application is deleting its entry.
type appMemory struct {
	// failures counts consecutive failed reconciles, for the retry policy.
	failures int32
	// drifted: one of its objects changed since the last comparison.
	drifted bool
	// statusChanged: one of its objects changed its status, or was written by Ferry; only its
	// health needs a new look.
	statusChanged bool
	// due is when its next full reconcile is scheduled (its interval or retry).
	due time.Time
	// finished is the last operation this controller finished. An informer cache that still
	// shows it Running is behind the controller's own status write: running it again (waves and
	// all) would only be refused at its final write.
	finished string
	// superseded are the last resourceVersions the controller's own status writes replaced. A
	// reconcile of such a version from the informer cache would decide on a status the controller
	// already changed, and act again — a hook run twice — before its own write was refused.
	superseded []string
}

// maxSuperseded bounds what the controller remembers of its own writes per Application; the
// informer cache is never more than a few writes behind.
const maxSuperseded = 16

// remember runs f on the memory of key, under the controller's lock.
func (c *Controller) remember(key string, f func(m *appMemory)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.memory[key]
	if m == nil {
		m = &appMemory{}
		c.memory[key] = m
	}
	f(m)
}

// forget drops what the controller keeps about a deleted Application.
func (c *Controller) forget(key string) {
	c.mu.Lock()
	delete(c.memory, key)
	c.mu.Unlock()
}

// markChanged records that one of key's objects drifted or changed its status.
func (c *Controller) markChanged(key string, drifted bool) {
	c.remember(key, func(m *appMemory) {
		if drifted {
			m.drifted = true
		} else {
			m.statusChanged = true
		}
	})
}

// takeDrift takes the drift mark of key.
func (c *Controller) takeDrift(key string) bool {
	var d bool
	c.remember(key, func(m *appMemory) { d, m.drifted = m.drifted, false })
	return d
}

// onlyHealthChanged takes the status-change mark of an Application and reports whether a health
// refresh is all it needs now: nothing drifted, no operation, spec already observed, the last
// reconcile succeeded, and its next full reconcile not yet due (the work queue merges reasons,
// so an interval that came due while the mark was set must still run in full).
func (c *Controller) onlyHealthChanged(key string, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, drifted bool) (bool, time.Time) {
	var marked bool
	var due time.Time
	c.remember(key, func(m *appMemory) { marked, due, m.statusChanged = m.statusChanged, m.due, false })
	stalled := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionStalled)
	return marked && !drifted && op == nil && time.Now().Before(due) &&
		app.Generation == app.Status.ObservedGeneration &&
		stalled != nil && stalled.Status == metav1.ConditionFalse && stalled.Reason == gitopsv1alpha1.ReasonSucceeded, due
}

// scheduled records when key's next full reconcile is due.
func (c *Controller) scheduled(key string, after time.Duration) {
	c.remember(key, func(m *appMemory) { m.due = time.Now().Add(after) })
}

// supersede remembers that the controller's status write replaced resourceVersion rv of key.
func (c *Controller) supersede(key, rv string) {
	c.remember(key, func(m *appMemory) {
		list := append(m.superseded, rv)
		if len(list) > maxSuperseded {
			list = list[len(list)-maxSuperseded:]
		}
		m.superseded = list
	})
}

// isSuperseded reports whether rv of key is a version the controller's own writes replaced.
func (c *Controller) isSuperseded(key, rv string) bool {
	var found bool
	c.remember(key, func(m *appMemory) { found = rv != "" && slices.Contains(m.superseded, rv) })
	return found
}

// finish records that this controller finished operation id of key.
func (c *Controller) finish(key, id string) {
	c.remember(key, func(m *appMemory) { m.finished = id })
}

// finishedHere reports whether this controller has already finished operation id of key.
func (c *Controller) finishedHere(key, id string) bool {
	var done bool
	c.remember(key, func(m *appMemory) { done = m.finished == id })
	return done
}

// failed counts one more consecutive failure of key and returns the count.
func (c *Controller) failed(key string) int32 {
	var attempt int32
	c.remember(key, func(m *appMemory) {
		m.failures++
		attempt = m.failures
	})
	return attempt
}

// succeeded starts key's retry policy over.
func (c *Controller) succeeded(key string) {
	c.remember(key, func(m *appMemory) { m.failures = 0 })
}
