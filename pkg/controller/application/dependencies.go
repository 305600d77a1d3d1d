package application

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/client-go/tools/cache"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// dependsOnIndex indexes Applications by the "namespace/name" of each Application they depend
// on, so that a change of one reaches those waiting for it at once.
const dependsOnIndex = "dependsOn"

// dependencyRecheck is how often an Application waiting for its dependencies looks again, should
// no change of theirs wake it first.
const dependencyRecheck = 30 * time.Second

// maxDependencyDepth bounds the walk that finds a dependency cycle.
const maxDependencyDepth = 256

// dependencyKeys are the "namespace/name" keys of the Applications app depends on.
func dependencyKeys(app *gitopsv1alpha1.Application) []string {
	keys := make([]string, 0, len(app.Spec.DependsOn))
	for _, d := range app.Spec.DependsOn {
		keys = append(keys, d.Key(app.Namespace))
	}
	return keys
}

func indexByDependency(obj any) ([]string, error) {
	app, ok := obj.(*gitopsv1alpha1.Application)
	if !ok {
		return nil, nil
	}
	return dependencyKeys(app), nil
}

// dependencyReady reports whether an Application others depend on is done: its spec observed,
// Synced at the revision it resolves to now, and Healthy; otherwise what it is.
func dependencyReady(dep *gitopsv1alpha1.Application) (bool, string) {
	st := dep.Status
	switch {
	case st.ObservedGeneration != dep.Generation:
		return false, "its spec is not yet reconciled"
	case st.Sync.Status != gitopsv1alpha1.SyncStatusSynced:
		return false, orUnknown(string(st.Sync.Status))
	case st.Sync.Revision != st.SourceRevision:
		return false, "not yet synced at revision " + gitopsv1alpha1.ShortRevision(st.SourceRevision)
	case st.Health.Status != gitopsv1alpha1.HealthHealthy:
		return false, orUnknown(string(st.Health.Status))
	}
	return true, ""
}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// dependenciesNotReady says which of app's dependencies are not ready, and why; "" when all are.
// A cycle through app is named as such: waiting would never end.
func (c *Controller) dependenciesNotReady(app *gitopsv1alpha1.Application) string {
	var waiting []string
	for _, key := range dependencyKeys(app) {
		ns, name, _ := strings.Cut(key, "/")
		dep, err := c.lister.Applications(ns).Get(name)
		if err != nil {
			waiting = append(waiting, key+" (not found)")
			continue
		}
		if ok, why := dependencyReady(dep); !ok {
			waiting = append(waiting, fmt.Sprintf("%s (%s)", key, why))
		}
	}
	if len(waiting) == 0 {
		return ""
	}
	if c.inCycle(app) {
		return "its dependencies lead back to it (a cycle: none of them can ever sync); remove one spec.dependsOn entry of the cycle: waiting for " + strings.Join(waiting, ", ")
	}
	return "waiting for " + strings.Join(waiting, ", ") + " to be Synced and Healthy"
}

// inCycle reports whether app's dependencies, followed through the informer cache, lead back
// to it.
func (c *Controller) inCycle(app *gitopsv1alpha1.Application) bool {
	self := cache.MetaObjectToName(app).String()
	queue := dependencyKeys(app)
	seen := map[string]bool{}
	for len(queue) > 0 && len(seen) < maxDependencyDepth {
		key := queue[0]
		queue = queue[1:]
		if key == self {
			return true
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		ns, name, _ := strings.Cut(key, "/")
		if dep, err := c.lister.Applications(ns).Get(name); err == nil {
			queue = append(queue, dependencyKeys(dep)...)
		}
	}
	return false
}

// enqueueDependents wakes the Applications that depend on app when its readiness changed (or it
// appeared or went).
func (c *Controller) enqueueDependents(indexer cache.Indexer, old, cur *gitopsv1alpha1.Application) {
	if old != nil && cur != nil {
		wasReady, _ := dependencyReady(old)
		isReady, _ := dependencyReady(cur)
		if wasReady == isReady {
			return
		}
	}
	app := cur
	if app == nil {
		app = old
	}
	dependents, err := indexer.ByIndex(dependsOnIndex, cache.MetaObjectToName(app).String())
	if err != nil {
		return
	}
	for _, d := range dependents {
		c.enqueue(d)
	}
}
