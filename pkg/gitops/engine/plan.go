package engine

import (
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Action is what a sync does with the objects Git holds.
type Action string

// Actions of a Plan.
const (
	// ActionNone leaves the cluster alone and compares nothing: the objects were synced at this
	// revision and nothing changed since, or the Application is suspended.
	ActionNone Action = "None"
	// ActionCompare finds whether the cluster matches Git and changes nothing.
	ActionCompare Action = "Compare"
	// ActionApply applies the objects, and prunes when the plan says so.
	ActionApply Action = "Apply"
)

// Plan is what one sync of an Application does, decided from its spec, its status and what
// happened since its last sync. Decide makes it; Sync carries it out.
type Plan struct {
	Action Action
	// Prune deletes the inventory objects that left Git (only with ActionApply, never with
	// Resources).
	Prune bool
	// DryRun makes the apply and prune change nothing.
	DryRun bool
	// CreateNamespace creates spec.destination.namespace first.
	CreateNamespace bool
	// Resources limits a requested sync to these objects; empty means all.
	Resources []gitopsv1alpha1.SyncResource
	// RunHooks runs the render's hooks (package hooks): a requested sync, or an automated one
	// applying a new revision or spec; never selfHeal putting drift back.
	RunHooks bool
	// Held is the failure that holds an automated Application at this revision and spec (a
	// failed hook, which applying again would run again): only compared, and the failure stays
	// reported.
	Held string
	// SelfHeal: the apply puts objects changed in the cluster back to Git's version (with
	// HeldByWindow: it would have, but a SyncWindow holds it).
	SelfHeal bool
	// HeldByWindow: the sync policy would apply, but a SyncWindow blocks syncs; only compared.
	HeldByWindow bool
	// Why says in words why this plan, for logs and tests.
	Why string
}

// Decide is the sync policy: what to do for app, given the requested operation (nil when none is
// Pending or Running), the commit sha its revision resolves to now, and whether one of its
// objects drifted since the last comparison. It reads nothing but its arguments.
func Decide(app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, sha string, drifted bool) Plan {
	automated := app.Spec.SyncPolicy.Automated
	specObserved := app.Generation == app.Status.ObservedGeneration
	// The objects were applied at this revision and spec.
	atRevision := sha == app.Status.Sync.Revision && specObserved
	upToDate := atRevision && app.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && !drifted
	// OutOfSync at this revision by the policy's own choice, not by a failure: drift reported
	// without selfHeal, or objects that left Git kept without prune. Applying again would undo
	// what the policy leaves alone.
	reported := atRevision && app.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync && !drifted && !lastReconcileFailed(app)
	createNamespace := app.Spec.SyncPolicy.CreateNamespace && app.Spec.Destination.Namespace != ""

	switch {
	case app.Spec.Suspend:
		return Plan{Action: ActionNone, Why: "suspended: spec.suspend"}
	case op != nil:
		return Plan{
			Action: ActionApply,
			// A sync limited to some objects prunes nothing: the others are not its business.
			Prune:           len(op.Resources) == 0 && (op.Prune || automated != nil && automated.Prune),
			DryRun:          op.DryRun,
			CreateNamespace: createNamespace && !op.DryRun,
			Resources:       op.Resources,
			RunHooks:        true,
			Why:             "sync " + op.ID + " requested by " + op.RequestedBy.Username,
		}
	case automated != nil && drifted && !automated.SelfHeal && atRevision:
		return Plan{Action: ActionCompare, Why: "drifted without selfHeal: report it, leave the objects alone"}
	case automated != nil && drifted && atRevision:
		return Plan{Action: ActionApply, Prune: automated.Prune, CreateNamespace: createNamespace, SelfHeal: true, Why: "drifted: selfHeal puts Git's version back"}
	case automated != nil && hookFailedAt(app, sha):
		return Plan{Action: ActionCompare, Held: meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionStalled).Message,
			Why: "automated: a hook failed at this revision and spec; a new commit, a spec change or a requested sync runs it again"}
	case automated != nil && reported:
		return Plan{Action: ActionCompare, Why: "automated: out of sync at this revision by policy (drift without selfHeal, or objects kept without prune); report it, do not apply"}
	case automated != nil && !upToDate:
		return Plan{Action: ActionApply, Prune: automated.Prune, CreateNamespace: createNamespace, RunHooks: true, Why: "automated: a new revision or spec, or not yet synced"}
	case automated != nil:
		return Plan{Action: ActionNone, Why: "automated: synced at this revision, nothing drifted"}
	case !upToDate || app.Status.Sync.Status == "":
		return Plan{Action: ActionCompare, Why: "manual: something may have changed; compare, never apply"}
	default:
		return Plan{Action: ActionNone, Why: "manual: compared at this revision, nothing drifted"}
	}
}

// hookFailedAt: the last sync of this revision and spec stopped at a failed hook. Applying it
// again would run the hooks again (a migration, say) at every interval.
func hookFailedAt(app *gitopsv1alpha1.Application, sha string) bool {
	c := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionStalled)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == gitopsv1alpha1.ReasonHookFailed &&
		sha == app.Status.SourceRevision && app.Generation == app.Status.ObservedGeneration
}

// lastReconcileFailed: the Stalled condition carries the failure's reason, retried or not, and
// Succeeded otherwise.
func lastReconcileFailed(app *gitopsv1alpha1.Application) bool {
	c := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionStalled)
	return c != nil && c.Reason != gitopsv1alpha1.ReasonSucceeded
}

// Retryable reports whether retrying err with the same input may succeed: Git or the cluster
// unavailable, a refusal that a granted permission cures, a fault of Ferry. Terminal errors
// (an invalid manifest, a missing path or revision, a dry run the server refuses) need a change
// by the user: the Application is Stalled until then.
func Retryable(err error) bool {
	var stage *StageError
	if errors.As(err, &stage) {
		return !stage.Terminal
	}
	return true
}
