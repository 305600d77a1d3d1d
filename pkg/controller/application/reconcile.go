package application

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/recovery"
)

// maxMessage keeps messages in status and events short: status must stay small.
const maxMessage = 1024

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
	logger := klog.FromContext(ctx).WithValues("application", key)
	ctx = klog.NewContext(ctx, logger)
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
		})
	})
	if err != nil {
		klog.FromContext(ctx).Error(err, "Cannot record the internal error in the Application's status")
	}
	return Result{RequeueAfter: c.retryDelay(key, app, intervalOf(app))}, nil
}

// reconcile brings one Application's objects and status up to date.
func (c *Controller) reconcile(ctx context.Context, app *gitopsv1alpha1.Application) (Result, error) {
	key := app.Namespace + "/" + app.Name
	if app.DeletionTimestamp != nil {
		return c.finalize(ctx, app)
	}
	if c.namespaceTerminating(app.Namespace) {
		// Nothing can be created there any more, and the Application's own deletion is on its
		// way: syncing would only fail, again and again, until then.
		msg := fmt.Sprintf("namespace %s is being deleted: Ferry no longer syncs this Application, which goes with the namespace", app.Namespace)
		return Result{}, c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
			setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonNamespaceTerminating, msg)
			setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonNamespaceTerminating, msg)
		})
	}
	if !hasFinalizer(app) {
		app.Finalizers = append(app.Finalizers, gitopsv1alpha1.PruneFinalizer)
		updated, err := c.ferry.GitopsV1alpha1().Applications(app.Namespace).Update(ctx, app, metav1.UpdateOptions{FieldManager: apply.FieldManager})
		if err != nil {
			return Result{}, err
		}
		app = updated
	}
	if app.Spec.Suspend {
		return Result{}, c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
			setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonSuspended, "reconciliation is suspended (spec.suspend)")
			st.ObservedGeneration = app.Generation
		})
	}

	if waiting := c.dependenciesNotReady(app); waiting != "" {
		// Nothing is applied, and a requested sync stays Pending, until the dependencies are
		// done; a change of theirs wakes this Application at once.
		return Result{RequeueAfter: dependencyRecheck}, c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
			setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonDependencyNotReady, truncate(waiting, maxMessage))
			setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionTrue, gitopsv1alpha1.ReasonDependencyNotReady, truncate(waiting, maxMessage))
		})
	}

	interval := intervalOf(app)
	op := app.Status.Operation
	if op != nil && op.Phase != gitopsv1alpha1.OperationPending && op.Phase != gitopsv1alpha1.OperationRunning {
		op = nil
	}
	if op != nil && c.finishedHere(key, op.ID) {
		// The cache is behind this controller's write that finished the operation; look again
		// once it has caught up.
		return Result{RequeueAfter: staleCacheDelay}, nil
	}
	if op != nil && op.Phase == gitopsv1alpha1.OperationPending {
		// Mark the operation Running first: a crash from here on leaves it Running, and a
		// Running operation is executed again when Ferry restarts — apply is idempotent.
		now := metav1.Now()
		running := op.DeepCopy()
		running.Phase = gitopsv1alpha1.OperationRunning
		running.StartedAt = &now
		if err := c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
			st.Operation = running
			setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionTrue, gitopsv1alpha1.ReasonOperationRunning,
				fmt.Sprintf("sync %s requested by %s is running", op.ID, op.RequestedBy.Username))
		}); err != nil {
			return Result{}, err
		}
		op = app.Status.Operation // writeStatus refreshed app from the server's answer
	}

	drifted := c.takeDrift(key)
	if healthOnly, due := c.onlyHealthChanged(key, app, op, drifted); healthOnly {
		out := outcome{Outcome: engine.Outcome{SourceRevision: app.Status.SourceRevision, SyncedRevision: app.Status.Sync.Revision, SyncStatus: app.Status.Sync.Status}, healthOnly: true}
		out.Resources, out.Health = engine.InventoryHealth(ctx, app.Status.Resources, c.healthOf(app))
		// The full reconcile stays due when it was, and is scheduled again here: the queue's
		// delayed entry for it may be gone, pulled earlier by a retry or a stale-cache look and
		// spent (the queue keeps one entry per Application, the earliest), and an Application
		// without one would wait for someone to touch it.
		return Result{RequeueAfter: time.Until(due)}, c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) { out.writeTo(st, app) })
	}
	out := c.sync(ctx, app, op, drifted)
	if out.Synced && out.Err == nil {
		controller.CountSync("succeeded")
	} else if out.Err != nil && len(out.Applied) > 0 {
		controller.CountSync("failed")
	}

	if err := c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) { out.writeTo(st, app) }); err != nil {
		return Result{}, err
	}
	if op != nil {
		c.finish(key, op.ID)
	}
	c.emitEvents(app, out)

	if out.Err == nil {
		c.succeeded(key)
		return Result{RequeueAfter: interval}, nil
	}
	if !engine.Retryable(out.Err) {
		// The same input fails the same way: wait for a change, but look again at the interval
		// in case a referenced branch or Secret appears.
		return Result{RequeueAfter: interval}, nil
	}
	return Result{RequeueAfter: c.retryDelay(key, app, interval)}, nil
}

// staleCacheDelay is how soon an Application is looked at again when the informer cache has not
// yet caught up with the controller's own status write.
const staleCacheDelay = 200 * time.Millisecond

// sync runs the engine's sync behind a boundary: a panic anywhere in it fails this
// Application's sync with reason InternalError — its operation Failed, so that a new sync can be
// requested — and is retried with backoff like any error that a retry may cure.
func (c *Controller) sync(ctx context.Context, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, drifted bool) outcome {
	out := outcome{op: op}
	err := recovery.Guard(ctx, recovery.Sync, func() error {
		out.Outcome = c.engine.Sync(ctx, engine.SyncRequest{
			App: app, Operation: op, Drifted: drifted, Health: c.healthOf(app),
			Rendered: func(objs []*unstructured.Unstructured) { c.watch(ctx, app.Spec.Destination.Cluster, objs) },
			Cached:   c.cachedOn(app.Spec.Destination.Cluster),
			Progress: func(steps []gitopsv1alpha1.OperationStep) { c.showProgress(ctx, app, op, steps) },
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

// showProgress writes where a sync in waves or with hooks stands: the steps into the running
// operation, and the wave or hook being applied or waited for into the Reconciling condition (an automated sync has no
// operation to show it in). A failed write is only logged: the sync goes on, and its outcome is
// written at the end.
func (c *Controller) showProgress(ctx context.Context, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, steps []gitopsv1alpha1.OperationStep) {
	// The step under way, else the last one done (between two steps), else the first.
	at := slices.IndexFunc(steps, func(s gitopsv1alpha1.OperationStep) bool {
		return s.Phase == gitopsv1alpha1.OperationRunning || s.Phase == gitopsv1alpha1.OperationFailed
	})
	if at < 0 {
		next := slices.IndexFunc(steps, func(s gitopsv1alpha1.OperationStep) bool { return s.Phase == gitopsv1alpha1.OperationPending })
		if at = next - 1; next < 0 {
			at = len(steps) - 1
		}
		at = max(at, 0)
	}
	steps = boundedSteps(steps)
	what := fmt.Sprintf("sync wave %d", steps[at].Wave)
	if s := steps[at]; s.Type == gitopsv1alpha1.OperationStepHook {
		what = fmt.Sprintf("%s hook %s/%s", s.Hook, s.Kind, s.Name)
	}
	msg := fmt.Sprintf("%s (%d of %d): %s", what, at+1, len(steps), steps[at].Message)
	err := c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
		if op != nil && st.Operation != nil && st.Operation.ID == op.ID {
			st.Operation.Steps = steps
			st.Operation.Message = truncate(msg, maxMessage)
		}
		setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionTrue, gitopsv1alpha1.ReasonProgressing, truncate(msg, maxMessage))
	})
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Could not show the progress of a sync in waves", "application", klog.KObj(app), "err", err)
	}
}

// maxStepMessage bounds each step's message, so that many waves fit in the status.
const maxStepMessage = 512

// boundedSteps is a copy of steps with each message within maxStepMessage.
func boundedSteps(steps []gitopsv1alpha1.OperationStep) []gitopsv1alpha1.OperationStep {
	out := slices.Clone(steps)
	for i := range out {
		out[i].Message = truncate(out[i].Message, maxStepMessage)
	}
	return out
}

// outcome is one reconcile's sync outcome and the operation it ran; it becomes status and
// Events.
type outcome struct {
	engine.Outcome
	op *gitopsv1alpha1.Operation
	// healthOnly: only the objects' health was judged again; the sync verdict and its message
	// stay as the last sync or comparison wrote them.
	healthOnly bool
}

// cachedOn returns a reader of managed objects from the watch cache of a cluster, when the
// controller keeps one.
func (c *Controller) cachedOn(cluster string) func(apply.ObjectRef) (*unstructured.Unstructured, bool) {
	return func(ref apply.ObjectRef) (*unstructured.Unstructured, bool) {
		if c.live == nil {
			return nil, false
		}
		return c.live.Get(cluster, ref)
	}
}

// healthOf judges app's managed objects from the watch cache when it has the object's kind, else
// from the cluster, read as the Application's identity.
func (c *Controller) healthOf(app *gitopsv1alpha1.Application) engine.HealthFunc {
	as, asErr := c.engine.ActorOf(app)
	cluster := app.Spec.Destination.Cluster
	return func(ctx context.Context, ref apply.ObjectRef) health.Status {
		if asErr != nil {
			return health.Status{Code: gitopsv1alpha1.HealthUnknown, Message: asErr.Error()}
		}
		gvk := schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind}
		if c.live != nil && c.live.Synced(cluster, gvk) {
			if live, ok := c.live.Get(cluster, ref); ok {
				return health.Of(live)
			}
			// Not in the cache: either gone or not yet seen after an apply a moment ago; ask.
		}
		return engine.LiveHealth(ctx, as, ref)
	}
}

// watch makes sure every kind the Application manages is watched on its cluster, so a change to any of its
// objects is seen at once.
func (c *Controller) watch(ctx context.Context, cluster string, desired []*unstructured.Unstructured) {
	if c.live == nil {
		return
	}
	seen := map[schema.GroupVersionKind]bool{}
	var gvks []schema.GroupVersionKind
	for _, o := range desired {
		gvk := o.GroupVersionKind()
		if !seen[gvk] {
			seen[gvk] = true
			gvks = append(gvks, gvk)
		}
	}
	if err := c.live.Watch(cluster, gvks...); err != nil {
		// Kinds whose CRD comes with this set appear after the apply; the next reconcile
		// watches them.
		klog.FromContext(ctx).V(2).Info("Not every managed kind can be watched yet", "err", err)
	}
}

// writeTo writes the outcome into status.
func (o outcome) writeTo(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	st.ObservedGeneration = app.Generation
	st.SourceRevision = o.SourceRevision
	st.SourceRevisions = engine.RevisionList(app, o.SourceRevision)
	st.Sync = gitopsv1alpha1.SyncStatus{Status: o.SyncStatus, Revision: o.SyncedRevision, Revisions: engine.RevisionList(app, o.SyncedRevision)}
	st.Health = gitopsv1alpha1.HealthStatus{Status: o.Health.Code, Message: truncate(o.Health.Message, maxMessage)}
	st.Resources = o.Resources

	setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonSucceeded, "")
	if o.Err != nil {
		reason, terminal := gitopsv1alpha1.ReasonApplyFailed, false
		var stage *engine.StageError
		if errors.As(o.Err, &stage) {
			reason, terminal = stage.Reason, stage.Terminal
		}
		msg := truncate(o.Err.Error(), maxMessage)
		setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
		stalled := metav1.ConditionFalse
		if terminal {
			stalled = metav1.ConditionTrue
		}
		setCondition(st, app, gitopsv1alpha1.ConditionStalled, stalled, reason, msg)
	} else {
		setCondition(st, app, gitopsv1alpha1.ConditionStalled, metav1.ConditionFalse, gitopsv1alpha1.ReasonSucceeded, "")
	}

	switch {
	case o.healthOnly && meta.FindStatusCondition(st.Conditions, gitopsv1alpha1.ConditionSynced) != nil:
	case o.SyncStatus == gitopsv1alpha1.SyncStatusSynced:
		setCondition(st, app, gitopsv1alpha1.ConditionSynced, metav1.ConditionTrue, gitopsv1alpha1.ReasonSynced, "objects match revision "+engine.ShortRevision(o.SyncedRevision))
	case len(o.Shared) > 0:
		setCondition(st, app, gitopsv1alpha1.ConditionSynced, metav1.ConditionFalse, gitopsv1alpha1.ReasonSharedResource, sharedMessage(o.Shared))
	default:
		msg := "live objects differ from revision " + engine.ShortRevision(o.SourceRevision)
		if len(o.Kept) > 0 {
			msg += fmt.Sprintf("; %d left Git and %s kept until pruned (%s)", len(o.Kept), plural(len(o.Kept), "is", "are"), keptList(o.Kept))
		}
		if app.Spec.SyncPolicy.Automated == nil {
			msg += "; POST applications/" + app.Name + "/sync to apply it"
		}
		setCondition(st, app, gitopsv1alpha1.ConditionSynced, metav1.ConditionFalse, gitopsv1alpha1.ReasonOutOfSync, msg)
	}
	if o.Health.Code == gitopsv1alpha1.HealthHealthy {
		setCondition(st, app, gitopsv1alpha1.ConditionHealthy, metav1.ConditionTrue, string(gitopsv1alpha1.HealthHealthy), "")
	} else {
		setCondition(st, app, gitopsv1alpha1.ConditionHealthy, metav1.ConditionFalse, string(o.Health.Code), truncate(o.Health.Message, maxMessage))
	}
	if o.Err == nil {
		switch {
		case o.SyncStatus != gitopsv1alpha1.SyncStatusSynced:
			setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonOutOfSync, meta.FindStatusCondition(st.Conditions, gitopsv1alpha1.ConditionSynced).Message)
		case o.Health.Code != gitopsv1alpha1.HealthHealthy:
			setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, string(o.Health.Code), truncate(o.Health.Message, maxMessage))
		default:
			setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionTrue, gitopsv1alpha1.ReasonSucceeded, "applied revision "+engine.ShortRevision(o.SyncedRevision))
		}
	}

	if o.op != nil {
		now := metav1.Now()
		finished := o.op.DeepCopy()
		finished.FinishedAt = &now
		finished.Steps = boundedSteps(o.Steps)
		if o.Err != nil {
			finished.Phase = gitopsv1alpha1.OperationFailed
			finished.Message = truncate(o.Err.Error(), maxMessage)
		} else {
			finished.Phase = gitopsv1alpha1.OperationSucceeded
			finished.SyncedRevision = o.SourceRevision
			finished.Message = summary(o)
		}
		st.Operation = finished
		record := gitopsv1alpha1.OperationRecord{
			ID: finished.ID, Phase: finished.Phase, Revision: finished.Revision, SyncedRevision: finished.SyncedRevision,
			Prune: finished.Prune, DryRun: finished.DryRun, RequestedBy: finished.RequestedBy.Username,
			RequestedAt: &finished.RequestedAt, FinishedAt: finished.FinishedAt, Message: truncate(finished.Message, 256),
		}
		st.History = append([]gitopsv1alpha1.OperationRecord{record}, st.History...)
		if len(st.History) > gitopsv1alpha1.MaxHistory {
			st.History = st.History[:gitopsv1alpha1.MaxHistory]
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// sharedMessage names the objects another Application manages, and which.
func sharedMessage(shared []apply.Result) string {
	return firstFew(len(shared), "; ", func(i int) string {
		return fmt.Sprintf("%s/%s is managed by Application %s", shared[i].Ref.Kind, shared[i].Ref.Name, apply.OwnerApp(shared[i].Owner))
	}) + "; Ferry leaves them alone (remove them from one of the two Applications' Git)"
}

// keptList names the first few kept objects.
func keptList(refs []apply.ObjectRef) string {
	return firstFew(len(refs), ", ", func(i int) string { return refs[i].Kind + "/" + refs[i].Name })
}

// firstFew joins the descriptions of the first five of n items, and says how many more there are:
// a condition message names what a user should look at, not all of it.
func firstFew(n int, sep string, describe func(int) string) string {
	const shown = 5
	parts := make([]string, 0, shown+1)
	for i := 0; i < n && i < shown; i++ {
		parts = append(parts, describe(i))
	}
	if n > shown {
		parts = append(parts, fmt.Sprintf("and %d more", n-shown))
	}
	return strings.Join(parts, sep)
}

func summary(o outcome) string {
	counts := map[apply.Action]int{}
	for _, r := range o.Applied {
		counts[r.Action]++
	}
	for _, r := range o.Pruned {
		if r.Action == apply.Deleted {
			counts[apply.Deleted]++
		}
	}
	var parts []string
	for _, a := range []apply.Action{apply.Created, apply.Configured, apply.Unchanged, apply.Deleted, apply.Skipped} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], strings.ToLower(string(a))))
		}
	}
	result := "nothing to do"
	if len(parts) > 0 {
		result = strings.Join(parts, ", ")
	}
	if o.Selected == nil {
		return result
	}
	// A selective sync says which objects it was limited to.
	names := make([]string, 0, len(o.Selected))
	for _, r := range o.Selected {
		if r.Namespace == "" {
			names = append(names, r.Kind+"/"+r.Name)
		} else {
			names = append(names, r.Kind+"/"+r.Namespace+"/"+r.Name)
		}
	}
	return "only " + strings.Join(names, ", ") + ": " + result
}

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
			c.recorder.Eventf(app, corev1.EventTypeNormal, "Synced", "revision %s: %s", engine.ShortRevision(o.SyncedRevision), summary(o))
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

// writeStatus applies mutate to a copy of the status and writes it only when it changed, so an
// idle Application costs no writes.
func (c *Controller) writeStatus(ctx context.Context, app *gitopsv1alpha1.Application, mutate func(*gitopsv1alpha1.ApplicationStatus)) error {
	st := app.Status.DeepCopy()
	mutate(st)
	if apiequality.Semantic.DeepEqual(*st, app.Status) {
		return nil
	}
	now := metav1.Now()
	st.ReconciledAt = &now
	updated := app.DeepCopy()
	updated.Status = *st
	result, err := c.ferry.GitopsV1alpha1().Applications(app.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: apply.FieldManager})
	if err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if base := app.ResourceVersion; base != "" && base != result.ResourceVersion {
		c.supersede(app.Namespace+"/"+app.Name, base)
	}
	*app = *result
	return nil
}

// setCondition sets a condition, keeping its transition time when the status does not change.
func setCondition(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: app.Generation,
	})
}

func hasFinalizer(app *gitopsv1alpha1.Application) bool {
	for _, f := range app.Finalizers {
		if f == gitopsv1alpha1.PruneFinalizer {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
