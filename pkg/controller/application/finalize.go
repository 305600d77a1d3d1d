package application

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

// DefaultFinalizerTimeout bounds how long a deleted Application waits for its objects to be
// pruned before Ferry lets it go anyway (ferry-apiserver --finalizer-timeout).
const DefaultFinalizerTimeout = 5 * time.Minute

// ReasonLeftBehind is the reason of the Warning Event naming an object a deleted Application did
// not delete.
const ReasonLeftBehind = "LeftBehind"

// finalize prunes what a deleted Application applied, then lets it go. What it prunes comes from
// its own record, status.resources — never from Git, so a deletion needs neither the repository
// nor its credentials. A deletion never hangs:
//   - orphan intent (kubectl delete --cascade=orphan, or the deletion-policy annotation) prunes
//     nothing;
//   - while the Application's own namespace is being deleted, the objects in that namespace are
//     left to the namespace's deletion;
//   - an object the Application's identity may not read or delete (Forbidden: a refused sync that
//     never created it, a RoleBinding or ServiceAccount gone) is not retried: a Warning Event
//     names it;
//   - any other failure is retried until --finalizer-timeout has passed since the deletion, and
//     then a Warning Event names each object not deleted.
func (c *Controller) finalize(ctx context.Context, app *gitopsv1alpha1.Application) (Result, error) {
	if !hasFinalizer(app) {
		return Result{}, nil
	}
	logger := klog.FromContext(ctx)
	if orphaned(app) {
		logger.Info("Deleted Application orphans its objects", "count", len(app.Status.Resources))
		return Result{}, c.release(ctx, app)
	}
	terminating := c.namespaceTerminating(app.Namespace)
	var refs []apply.ObjectRef
	for _, ref := range engine.InventoryRefs(app.Status.Resources) {
		if terminating && ref.Namespace == app.Namespace {
			continue // the namespace's deletion removes it
		}
		refs = append(refs, ref)
	}
	results, err := c.engine.PruneAll(ctx, app, refs)
	var refused, failed []*apply.PruneError
	if err != nil {
		failures := apply.PruneErrors(err)
		if len(failures) == 0 {
			// Nothing could be tried (no client for the identity, the cluster unreachable):
			// every object is still to be deleted.
			for _, ref := range refs {
				failures = append(failures, &apply.PruneError{Ref: ref, Op: apply.PruneOpDelete, Err: err})
			}
		}
		for _, f := range failures {
			if apply.IsForbidden(f.Err) {
				refused = append(refused, f)
			} else {
				failed = append(failed, f)
			}
		}
	}
	if len(failed) > 0 {
		waited := time.Since(app.DeletionTimestamp.Time)
		if left := c.finalizerTimeout - waited; left > 0 {
			msg := err.Error()
			if cluster := app.Spec.Destination.Cluster; cluster != "" {
				msg = fmt.Sprintf("%s; Ferry retries until cluster %q is back, for up to %s. To let the Application go without deleting its objects there: kubectl annotate application -n %s %s %s=%s",
					msg, cluster, left.Round(time.Second), app.Namespace, app.Name, gitopsv1alpha1.DeletionPolicyAnnotation, gitopsv1alpha1.DeletionPolicyOrphan)
			}
			c.event(app, terminating, corev1.EventTypeWarning, gitopsv1alpha1.ReasonPruneFailed, truncate(msg, maxMessage))
			return Result{RequeueAfter: min(c.finalizeDelay(app), left)}, nil
		}
	}
	for _, r := range results {
		if r.Kept != "" {
			c.event(app, terminating, corev1.EventTypeNormal, "DeleteSkipped", fmt.Sprintf("kept %s: %s", r.Ref, r.Kept))
		}
	}
	identity := c.engine.Identity(app)
	if identity == "" {
		identity = "Ferry"
	}
	for _, f := range refused {
		why := fmt.Sprintf("%s may not delete it (%v)", identity, f.Err)
		if f.Op == apply.PruneOpRead {
			// A sync refused as Forbidden never created it, most likely; Ferry cannot tell.
			why = fmt.Sprintf("%s may not read it, so Ferry cannot tell whether it exists (%v)", identity, f.Err)
		}
		c.leftBehind(ctx, app, terminating, f.Ref, why)
	}
	for _, f := range failed {
		c.leftBehind(ctx, app, terminating, f.Ref, fmt.Sprintf("not deleted within --finalizer-timeout %s (%v)", c.finalizerTimeout, f.Err))
	}
	logger.Info("Pruned the objects of a deleted Application", "count", len(results), "leftBehind", len(refused)+len(failed), "namespaceTerminating", terminating)
	return Result{}, c.release(ctx, app)
}

// orphaned says the Application's objects stay when it goes: its deletion asked for orphans
// (propagationPolicy Orphan leaves the garbage collector's orphan finalizer, when the registry
// did not drop Ferry's finalizer itself), or its deletion-policy annotation says so.
func orphaned(app *gitopsv1alpha1.Application) bool {
	return app.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation] == gitopsv1alpha1.DeletionPolicyOrphan ||
		slices.Contains(app.Finalizers, metav1.FinalizerOrphanDependents)
}

// release removes Ferry's finalizer, which lets the Application go.
func (c *Controller) release(ctx context.Context, app *gitopsv1alpha1.Application) error {
	app.Finalizers = slices.DeleteFunc(slices.Clone(app.Finalizers), func(f string) bool { return f == gitopsv1alpha1.PruneFinalizer })
	_, err := c.ferry.GitopsV1alpha1().Applications(app.Namespace).Update(ctx, app, metav1.UpdateOptions{FieldManager: apply.FieldManager})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// leftBehind records that a deleted Application did not delete ref: a Warning Event on the
// Application, or, when its namespace is being deleted (where no Event can be created any more),
// on the object itself.
func (c *Controller) leftBehind(ctx context.Context, app *gitopsv1alpha1.Application, terminating bool, ref apply.ObjectRef, why string) {
	klog.FromContext(ctx).Info("Deleted Application left an object behind", "object", ref.String(), "reason", why)
	if !terminating {
		c.recorder.Event(app, corev1.EventTypeWarning, ReasonLeftBehind, truncate(fmt.Sprintf("left %s behind: %s", ref, why), maxMessage))
		return
	}
	obj := &corev1.ObjectReference{
		APIVersion: schema.GroupVersion{Group: ref.Group, Version: ref.Version}.String(),
		Kind:       ref.Kind, Namespace: ref.Namespace, Name: ref.Name,
	}
	c.recorder.Event(obj, corev1.EventTypeWarning, ReasonLeftBehind,
		truncate(fmt.Sprintf("Application %s/%s was deleted with its namespace and left this object behind: %s; delete it by hand if it is no longer needed", app.Namespace, app.Name, why), maxMessage))
}

// namespaceTerminating says whether namespace is being deleted, from the controller's watch of
// namespaces; false when it keeps none.
func (c *Controller) namespaceTerminating(namespace string) bool {
	if c.namespaces == nil {
		return false
	}
	ns, err := c.namespaces.Get(namespace)
	if err != nil {
		return false // not seen yet: a namespace made a moment ago
	}
	return ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating
}

func hasFinalizer(app *gitopsv1alpha1.Application) bool {
	for _, f := range app.Finalizers {
		if f == gitopsv1alpha1.PruneFinalizer {
			return true
		}
	}
	return false
}
