package application

import (
	"errors"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

// emitEvents records what a sync did as Events on the Application: its hooks, its failure, the
// objects it changed, pruned, kept, adopted, or left alone as another Application's.
func (c *Controller) emitEvents(app *gitopsv1alpha1.Application, o outcome) {
	for _, s := range o.Steps {
		if s.Type != gitopsv1alpha1.OperationStepHook {
			continue
		}
		switch s.Phase {
		case gitopsv1alpha1.OperationSucceeded:
			c.recorder.Eventf(app, corev1.EventTypeNormal, "HookSucceeded", "%s hook %s/%s: %s", s.Hook, s.Kind, s.Name, truncate(s.Message, maxStepMessage))
		case gitopsv1alpha1.OperationFailed:
			c.recorder.Eventf(app, corev1.EventTypeWarning, gitopsv1alpha1.ReasonHookFailed, "%s hook %s/%s: %s", s.Hook, s.Kind, s.Name, truncate(s.Message, maxStepMessage))
		}
	}
	if o.Err != nil {
		reason := gitopsv1alpha1.ReasonApplyFailed
		var stage *engine.StageError
		if errors.As(o.Err, &stage) {
			reason = stage.Reason
		}
		c.recorder.Event(app, corev1.EventTypeWarning, reason, truncate(o.Err.Error(), maxMessage))
		return
	}
	if o.Synced {
		changed := 0
		for _, r := range o.Applied {
			if r.Action == apply.Created || r.Action == apply.Configured {
				changed++
			}
		}
		if changed > 0 || o.op != nil {
			c.recorder.Eventf(app, corev1.EventTypeNormal, "Synced", "revision %s: %s", gitopsv1alpha1.ShortRevision(o.SyncedRevision), summary(o))
		}
	}
	for _, r := range o.Pruned {
		switch {
		case r.Action == apply.Deleted:
			c.recorder.Eventf(app, corev1.EventTypeNormal, "Pruned", "deleted %s, no longer in Git", r.Ref)
		case r.Kept != "":
			c.recorder.Eventf(app, corev1.EventTypeNormal, "PruneSkipped", "kept %s, no longer in Git: %s", r.Ref, r.Kept)
		}
	}
	for _, r := range o.Applied {
		if r.Adopted {
			c.recorder.Eventf(app, corev1.EventTypeNormal, "Adopted", "took over %s, which existed with no Application's tracking annotation", r.Ref)
		}
	}
	for _, r := range o.Shared {
		c.recorder.Eventf(app, corev1.EventTypeWarning, gitopsv1alpha1.ReasonSharedResource, "left %s alone: Application %s manages it", r.Ref, apply.OwnerApp(r.Owner))
	}
}

// event records an Event on the Application, unless its namespace is being deleted, where none
// can be created any more: then the log has it.
func (c *Controller) event(app *gitopsv1alpha1.Application, terminating bool, typ, reason, msg string) {
	if terminating {
		klog.InfoS("Event of an Application whose namespace is being deleted", "application", klog.KObj(app), "type", typ, "reason", reason, "message", msg)
		return
	}
	c.recorder.Event(app, typ, reason, msg)
}
