package application

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/tools/cache"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
)

// maxMessage keeps messages in status and events short: status must stay small.
const maxMessage = 1024

// outcome is one reconcile's sync outcome and the operation it ran; it becomes status and
// Events.
type outcome struct {
	engine.Outcome
	op *gitopsv1alpha1.Operation
	// healthOnly: only the objects' health was judged again; the sync verdict and its message
	// stay as the last sync or comparison wrote them.
	healthOnly bool
	// window is what the Application's SyncWindows said when it was synced.
	window syncwindow.Verdict
}

// writeTo writes the outcome into status: what was synced and how healthy it is, the
// conditions, and the operation it finished.
func (o outcome) writeTo(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	o.recordPolicySync(st)
	o.recordSelfHeal(st)
	st.ObservedGeneration = app.Generation
	st.SourceRevision = o.SourceRevision
	st.SourceRevisions = gitopsv1alpha1.RevisionList(app, o.SourceRevision)
	st.Sync = gitopsv1alpha1.SyncStatus{Status: o.SyncStatus, Revision: o.SyncedRevision, Revisions: gitopsv1alpha1.RevisionList(app, o.SyncedRevision)}
	st.Health = gitopsv1alpha1.HealthStatus{Status: o.Health.Code, Message: truncate(o.Health.Message, maxMessage)}
	st.Resources = o.Resources

	setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionFalse, gitopsv1alpha1.ReasonSucceeded, "")
	o.writeFailure(st, app)
	o.writeSynced(st, app)
	if o.Health.Code == gitopsv1alpha1.HealthHealthy {
		setCondition(st, app, gitopsv1alpha1.ConditionHealthy, metav1.ConditionTrue, string(gitopsv1alpha1.HealthHealthy), "")
	} else {
		setCondition(st, app, gitopsv1alpha1.ConditionHealthy, metav1.ConditionFalse, string(o.Health.Code), truncate(o.Health.Message, maxMessage))
	}
	if o.Err == nil {
		o.writeReady(st, app)
	}
	if o.op != nil {
		o.finishOperation(st)
	}
	o.writeRollback(st, app)
	o.writeWindow(st, app)
}

// recordPolicySync records in the history a sync the sync policy ran by itself (no requested
// operation) that applied a new revision, as Argo CD records its automated syncs: a deploy that
// nobody requested is still one that can be looked up and rolled back to. A selfHeal, a
// comparison or a retry at the same revision records nothing.
func (o outcome) recordPolicySync(st *gitopsv1alpha1.ApplicationStatus) {
	if o.op != nil || !o.Synced || o.Err != nil || o.Selected != nil || o.SyncedRevision == st.Sync.Revision {
		return
	}
	now := metav1.Now()
	record := gitopsv1alpha1.OperationRecord{
		ID: string(uuid.NewUUID()), Phase: gitopsv1alpha1.OperationSucceeded, SyncedRevision: o.SyncedRevision,
		Prune: o.Plan.Prune, RequestedBy: PolicyRequester, RequestedAt: &now, FinishedAt: &now, Message: truncate(summary(o), 256),
	}
	prependHistory(st, record)
}

// recordSelfHeal records a selfHeal that put objects back (status.lastSelfHeal): the drift it
// repaired never shows as OutOfSync, and alerts and people still want to know it happened.
func (o outcome) recordSelfHeal(st *gitopsv1alpha1.ApplicationStatus) {
	if !o.Plan.SelfHeal || o.Err != nil || !o.Synced {
		return
	}
	var put []string
	for _, r := range o.Applied {
		if r.Action == apply.Configured || r.Action == apply.Created {
			put = append(put, r.Ref.Kind+"/"+r.Ref.Namespace+"/"+r.Ref.Name)
		}
	}
	if len(put) == 0 {
		return
	}
	const shown = 5
	rec := &gitopsv1alpha1.SelfHealRecord{Time: metav1.Now(), Revision: o.SyncedRevision, Count: int32(len(put))}
	rec.Objects = put[:min(len(put), shown)]
	st.LastSelfHeal = rec
}

// PolicyRequester is the requester status.history names for a sync the sync policy ran.
const PolicyRequester = "(sync policy)"

// writeRollback writes the RolledBack condition: True while status.rollback holds the
// Application, False once Git moved past the revision rolled back from (which ends the hold
// here) or a sync requested by hand ended it.
func (o outcome) writeRollback(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	hold := st.Rollback
	switch {
	case hold != nil && o.Rollback == engine.RollbackEnded:
		st.Rollback = nil
		setCondition(st, app, gitopsv1alpha1.ConditionRolledBack, metav1.ConditionFalse, gitopsv1alpha1.ReasonGitMoved,
			"Git moved past "+gitopsv1alpha1.ShortRevision(hold.From)+": following Git again")
	case hold != nil:
		setCondition(st, app, gitopsv1alpha1.ConditionRolledBack, metav1.ConditionTrue, gitopsv1alpha1.ReasonRolledBack, fmt.Sprintf(
			"rolled back to %s (history %s) by %s; held there while Git names %s: push a fix, or kubectl ferry resume %s to follow Git now",
			gitopsv1alpha1.ShortRevision(hold.Revision), hold.ID, hold.RequestedBy, gitopsv1alpha1.ShortRevision(hold.From), app.Name))
	case meta.IsStatusConditionTrue(st.Conditions, gitopsv1alpha1.ConditionRolledBack):
		setCondition(st, app, gitopsv1alpha1.ConditionRolledBack, metav1.ConditionFalse, gitopsv1alpha1.ReasonSyncRequested,
			"a sync was requested: following Git again")
	}
}

// writeFailure writes the Ready and Stalled conditions of a failed sync (Stalled when no retry
// can cure it), or Stalled False after a success.
func (o outcome) writeFailure(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	if o.Err == nil {
		setCondition(st, app, gitopsv1alpha1.ConditionStalled, metav1.ConditionFalse, gitopsv1alpha1.ReasonSucceeded, "")
		return
	}
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
}

// writeSynced writes the Synced condition: whether the objects match the revision, and if not,
// what differs and what a user can do. A health refresh keeps the one the last sync wrote.
func (o outcome) writeSynced(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	switch {
	case o.healthOnly && meta.FindStatusCondition(st.Conditions, gitopsv1alpha1.ConditionSynced) != nil:
	case o.SyncStatus == gitopsv1alpha1.SyncStatusSynced:
		setCondition(st, app, gitopsv1alpha1.ConditionSynced, metav1.ConditionTrue, gitopsv1alpha1.ReasonSynced, "objects match revision "+gitopsv1alpha1.ShortRevision(o.SyncedRevision))
	case len(o.Shared) > 0:
		setCondition(st, app, gitopsv1alpha1.ConditionSynced, metav1.ConditionFalse, gitopsv1alpha1.ReasonSharedResource, sharedMessage(o.Shared))
	default:
		msg := "live objects differ from revision " + gitopsv1alpha1.ShortRevision(o.SourceRevision)
		if len(o.Kept) > 0 {
			msg += fmt.Sprintf("; %d left Git and %s kept until pruned (%s)", len(o.Kept), plural(len(o.Kept), "is", "are"), keptList(o.Kept))
		}
		if app.Spec.SyncPolicy.Automated == nil {
			msg += "; POST applications/" + app.Name + "/sync to apply it"
		}
		setCondition(st, app, gitopsv1alpha1.ConditionSynced, metav1.ConditionFalse, gitopsv1alpha1.ReasonOutOfSync, msg)
	}
}

// writeReady writes the Ready condition of a sync that did not fail: ready when synced and
// healthy, else what it is not.
func (o outcome) writeReady(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application) {
	switch {
	case o.SyncStatus != gitopsv1alpha1.SyncStatusSynced:
		setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, gitopsv1alpha1.ReasonOutOfSync, meta.FindStatusCondition(st.Conditions, gitopsv1alpha1.ConditionSynced).Message)
	case o.Health.Code != gitopsv1alpha1.HealthHealthy:
		setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionFalse, string(o.Health.Code), truncate(o.Health.Message, maxMessage))
	default:
		setCondition(st, app, gitopsv1alpha1.ConditionReady, metav1.ConditionTrue, gitopsv1alpha1.ReasonSucceeded, "applied revision "+gitopsv1alpha1.ShortRevision(o.SyncedRevision))
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
	if apierrors.IsConflict(err) {
		result, err = c.writeOverRefresh(ctx, app, mutate, err)
	}
	if err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	if base := app.ResourceVersion; base != "" && base != result.ResourceVersion {
		c.supersede(cache.MetaObjectToName(app).String(), base)
	}
	*app = *result
	return nil
}

// writeOverRefresh writes the status once more when the conflict came from a refresh requested
// while this reconcile ran (POST .../refresh writes status.refresh alone): what the reconcile
// did still holds, and throwing it away would run a sync, or an operation, twice. The newer
// request stays in status, pending, and the informer has already queued the Application for it.
// Any other change since returns the conflict, and the reconcile runs again.
func (c *Controller) writeOverRefresh(ctx context.Context, app *gitopsv1alpha1.Application, mutate func(*gitopsv1alpha1.ApplicationStatus), conflict error) (*gitopsv1alpha1.Application, error) {
	apps := c.ferry.GitopsV1alpha1().Applications(app.Namespace)
	latest, err := apps.Get(ctx, app.Name, metav1.GetOptions{})
	if err != nil {
		return nil, conflict
	}
	seen := latest.Status.DeepCopy()
	seen.Refresh = app.Status.Refresh
	if latest.Generation != app.Generation || latest.DeletionTimestamp != nil || apiequality.Semantic.DeepEqual(latest.Status.Refresh, app.Status.Refresh) ||
		!apiequality.Semantic.DeepEqual(*seen, app.Status) {
		return nil, conflict
	}
	// mutate starts from the newer request: markRefreshHandled sets only handledAt, to the
	// request this reconcile saw, so the newer one stays pending.
	st := latest.Status.DeepCopy()
	mutate(st)
	now := metav1.Now()
	st.ReconciledAt = &now
	updated := latest.DeepCopy()
	updated.Status = *st
	result, err := apps.UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: apply.FieldManager})
	if err != nil {
		return nil, err
	}
	c.supersede(cache.MetaObjectToName(app).String(), latest.ResourceVersion)
	return result, nil
}

// setCondition sets a condition, keeping its transition time when the status does not change.
func setCondition(st *gitopsv1alpha1.ApplicationStatus, app *gitopsv1alpha1.Application, typ string, status metav1.ConditionStatus, reason, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: app.Generation,
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
