package application

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
	"github.com/ferry-gitops/ferry/pkg/recovery"
)

func (c *Controller) reconcileKey(ctx context.Context, key string) (Result, error) {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return Result{}, nil
	}
	app, err := c.lister.Applications(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.forget(key)
		return Result{}, nil
	}
	if err != nil {
		return Result{}, err
	}
	if c.isSuperseded(key, app.ResourceVersion) {
		// The cache has not caught up with this controller's own last status write.
		return Result{RequeueAfter: staleCacheDelay}, nil
	}
	logger := klog.FromContext(ctx) // the worker loop's, naming the Application
	if c.shards != nil {
		held, release, wait, ok := c.shards.Hold(ctx, app.Spec.Destination.Cluster)
		if !ok {
			// Another replica's shard, or one this replica gained a moment ago: told of every
			// change of its share, the controller looks again then.
			return Result{RequeueAfter: wait}, nil
		}
		defer release()
		ctx = held
	}
	logger.V(4).Info("Reconcile started")
	defer logger.V(4).Info("Reconcile finished")
	start := time.Now()
	var result Result
	err = recovery.Guard(ctx, recovery.Reconcile, func() error {
		var err error
		result, err = c.reconcile(ctx, app.DeepCopy())
		return err
	})
	if recovery.IsPanic(err) {
		result, err = c.recovered(ctx, key, app, err)
	}
	controller.ObserveReconcile(time.Since(start), err)
	return result, err
}

// recovered reports a panic of one reconcile on its Application — a Warning Event and the
// Ready and Stalled conditions with reason InternalError, as far as writing status still works —
// and schedules a retry with the Application's backoff. The other Applications never notice.
func (c *Controller) recovered(ctx context.Context, key string, app *gitopsv1alpha1.Application, panicErr error) (Result, error) {
	msg := truncate(panicErr.Error(), maxMessage)
	c.recorder.Event(app, corev1.EventTypeWarning, gitopsv1alpha1.ReasonInternalError, msg)
	err := recovery.Guard(ctx, recovery.Reconcile, func() error {
		current := app.DeepCopy()
		return c.writeStatus(ctx, current, func(st *gitopsv1alpha1.ApplicationStatus) {
			setCondition(st, current, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonInternalError, msg)
			setCondition(st, current, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonInternalError, msg)
			setCondition(st, current, gitopsv1alpha1.ConditionStalled, metav1.ConditionFalse, gitopsv1alpha1.ReasonInternalError, msg)
			// A requested operation ends Failed, so that a new sync can be requested: left
			// Pending or Running it would run into the same panic at every retry.
			if op := activeOperation(current); op != nil {
				outcome{op: op, Outcome: engine.Outcome{Err: panicErr}}.finishOperation(st)
			}
		})
	})
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot record the internal error in the Application's status")
	}
	return Result{RequeueAfter: c.retryDelay(key, app, intervalOf(app))}, nil
}

// reconcile brings one Application's objects and status up to date, step by step: a deleted one
// is finalized; one that must not sync now (its namespace going, suspended, its dependencies not
// ready) says why; otherwise a requested operation starts, and either its health alone is read
// again or it is synced, its status and Events written, and its next look scheduled.
func (c *Controller) reconcile(ctx context.Context, app *gitopsv1alpha1.Application) (Result, error) {
	key := cache.MetaObjectToName(app).String()
	if app.DeletionTimestamp != nil {
		return c.finalize(ctx, app)
	}
	if c.namespaceTerminating(app.Namespace) {
		return Result{}, c.writeNamespaceTerminating(ctx, app)
	}
	app, err := c.ensureFinalizer(ctx, app)
	if err != nil {
		return Result{}, err
	}
	if app.Spec.Suspend {
		return Result{}, c.writeSuspended(ctx, app)
	}
	if waiting := c.dependenciesNotReady(app); waiting != "" {
		// Nothing is applied, and a requested sync stays Pending, until the dependencies are
		// done; a change of theirs wakes this Application at once.
		return Result{RequeueAfter: dependencyRecheck}, c.writeWaiting(ctx, app, waiting)
	}

	interval := intervalOf(app)
	op := activeOperation(app)
	if op != nil && c.finishedHere(key, op.ID) {
		// The cache is behind this controller's write that finished the operation; look again
		// once it has caught up.
		return Result{RequeueAfter: staleCacheDelay}, nil
	}
	if op != nil && op.Phase == gitopsv1alpha1.OperationPending {
		if op, err = c.startOperation(ctx, app, op); err != nil {
			return Result{}, err
		}
	}

	drifted := c.takeDrift(key)
	// A requested refresh is a full look at the source, never only a new look at health.
	refresh := app.Status.Refresh.DeepCopy()
	_, refreshing := gitopsv1alpha1.PendingRefresh(app)
	if healthOnly, due := c.onlyHealthChanged(key, app, op, drifted); healthOnly && !refreshing {
		return c.refreshHealth(ctx, app, due)
	}
	window := c.windowOf(app)
	out := c.sync(ctx, app, op, drifted, window)
	if out.Plan.HeldByWindow && out.Plan.SelfHeal {
		// The drift stays to be put back once the window lets the Application sync.
		c.markChanged(key, true)
	}
	countSync(out)
	if err := c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
		out.writeTo(st, app)
		if refreshing {
			markRefreshHandled(st, refresh)
		}
	}); err != nil {
		return Result{}, err
	}
	if op != nil {
		c.finish(key, op.ID)
	}
	c.emitEvents(app, out)
	return Result{RequeueAfter: lookWhenOpen(window, c.nextLook(key, app, interval, out.Err), time.Now())}, nil
}

// markRefreshHandled records in st that the refresh this reconcile saw, handled, was: the sync
// resolved its revision from a listing no older than the request. A refresh requested since
// stays pending (writeStatus keeps the newer request).
func markRefreshHandled(st *gitopsv1alpha1.ApplicationStatus, handled *gitopsv1alpha1.RefreshStatus) {
	if st.Refresh == nil {
		st.Refresh = handled.DeepCopy()
	}
	at := handled.RequestedAt
	st.Refresh.HandledAt = &at
}

// writeNamespaceTerminating says that the Application no longer syncs: nothing can be created
// in its namespace any more, and its own deletion is on its way. Syncing would only fail, again
// and again, until then.
func (c *Controller) writeNamespaceTerminating(ctx context.Context, app *gitopsv1alpha1.Application) error {
	msg := fmt.Sprintf("namespace %s is being deleted: Ferry no longer syncs this Application, which goes with the namespace", app.Namespace)
	return c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
		setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonNamespaceTerminating, msg)
		setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonNamespaceTerminating, msg)
	})
}

// ensureFinalizer adds Ferry's prune finalizer when the Application lacks it, and returns the
// Application as the server wrote it.
func (c *Controller) ensureFinalizer(ctx context.Context, app *gitopsv1alpha1.Application) (*gitopsv1alpha1.Application, error) {
	if hasFinalizer(app) {
		return app, nil
	}
	app.Finalizers = append(app.Finalizers, gitopsv1alpha1.PruneFinalizer)
	return c.ferry.GitopsV1alpha1().Applications(app.Namespace).Update(ctx, app, metav1.UpdateOptions{FieldManager: apply.FieldManager})
}

// writeSuspended says that reconciliation is suspended.
func (c *Controller) writeSuspended(ctx context.Context, app *gitopsv1alpha1.Application) error {
	return c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
		setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonSuspended, "reconciliation is suspended (spec.suspend)")
		st.ObservedGeneration = app.Generation
	})
}

// writeWaiting says which dependencies the Application waits for.
func (c *Controller) writeWaiting(ctx context.Context, app *gitopsv1alpha1.Application, waiting string) error {
	return c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
		setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonDependencyNotReady, truncate(waiting, maxMessage))
		setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionTrue, gitopsv1alpha1.ReasonDependencyNotReady, truncate(waiting, maxMessage))
	})
}

// refreshHealth judges the health of the Application's objects again, from the watch cache,
// and writes it; the sync verdict stays as it was.
func (c *Controller) refreshHealth(ctx context.Context, app *gitopsv1alpha1.Application, due time.Time) (Result, error) {
	out := outcome{Outcome: engine.Outcome{SourceRevision: app.Status.SourceRevision, SyncedRevision: app.Status.Sync.Revision, SyncStatus: app.Status.Sync.Status}, healthOnly: true}
	out.Resources, out.Health = engine.InventoryHealth(ctx, app.Status.Resources, c.healthOf(app))
	// The full reconcile stays due when it was, and is scheduled again here: the queue's
	// delayed entry for it may be gone, pulled earlier by a retry or a stale-cache look and
	// spent (the queue keeps one entry per Application, the earliest), and an Application
	// without one would wait for someone to touch it.
	return Result{RequeueAfter: time.Until(due)}, c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) { out.writeTo(st, app) })
}

// countSync counts a sync that applied objects in ferry_syncs_total.
func countSync(out outcome) {
	if out.Synced && out.Err == nil {
		controller.CountSync("succeeded")
	} else if out.Err != nil && len(out.Applied) > 0 {
		controller.CountSync("failed")
	}
}

// nextLook is when to reconcile the Application again after a sync: at its interval after a
// success, else after its retry policy's backoff.
func (c *Controller) nextLook(key string, app *gitopsv1alpha1.Application, interval time.Duration, err error) time.Duration {
	if err == nil {
		c.succeeded(key)
		return interval
	}
	if !engine.Retryable(err) {
		// The same input fails the same way: wait for a change, but look again at the interval
		// in case a referenced branch or Secret appears.
		return interval
	}
	return c.retryDelay(key, app, interval)
}

// staleCacheDelay is how soon an Application is looked at again when the informer cache has not
// yet caught up with the controller's own status write.
const staleCacheDelay = 200 * time.Millisecond

// sync runs the engine's sync behind a boundary: a panic anywhere in it fails this
// Application's sync with reason InternalError — its operation Failed, so that a new sync can be
// requested — and is retried with backoff like any error that a retry may cure.
func (c *Controller) sync(ctx context.Context, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, drifted bool, window syncwindow.Verdict) outcome {
	out := outcome{op: op, window: window}
	err := recovery.Guard(ctx, recovery.Sync, func() error {
		out.Outcome = c.engine.Sync(ctx, engine.SyncRequest{
			App: app, Operation: op, Drifted: drifted, Health: c.healthOf(app),
			Rendered: func(objs []*unstructured.Unstructured) { c.watch(ctx, app.Spec.Destination.Cluster, objs) },
			Cached:   c.cachedOn(app.Spec.Destination.Cluster),
			Progress: func(steps []gitopsv1alpha1.OperationStep) { c.showProgress(ctx, app, op, steps) },
			Window:   window,
		})
		return nil
	})
	if err == nil {
		return out
	}
	h := health.Status{Code: app.Status.Health.Status, Message: app.Status.Health.Message}
	if h.Code == "" {
		h = health.Status{Code: gitopsv1alpha1.HealthUnknown}
	}
	out.Outcome = engine.Outcome{
		SourceRevision: app.Status.SourceRevision, SyncedRevision: app.Status.Sync.Revision,
		SyncStatus: gitopsv1alpha1.SyncStatusUnknown, Resources: app.Status.Resources, Health: h,
		Err: &engine.StageError{Reason: gitopsv1alpha1.ReasonInternalError, Err: err},
	}
	return out
}
