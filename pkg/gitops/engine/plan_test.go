package engine

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

const (
	synced = "1111111111111111111111111111111111111111"
	newer  = "2222222222222222222222222222222222222222"
)

// app is an Application synced at commit synced, generation 3 observed, with edits applied.
func app(edits ...func(*gitopsv1alpha1.Application)) *gitopsv1alpha1.Application {
	a := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", Generation: 3},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "web"},
		},
		Status: gitopsv1alpha1.ApplicationStatus{
			ObservedGeneration: 3,
			Sync:               gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusSynced, Revision: synced},
		},
	}
	for _, e := range edits {
		e(a)
	}
	return a
}

func automated(prune, selfHeal bool) func(*gitopsv1alpha1.Application) {
	return func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = &gitopsv1alpha1.AutomatedSyncPolicy{Prune: prune, SelfHeal: selfHeal}
	}
}

func neverSynced(a *gitopsv1alpha1.Application) { a.Status = gitopsv1alpha1.ApplicationStatus{} }
func specEdited(a *gitopsv1alpha1.Application)  { a.Generation = 4 }
func suspended(a *gitopsv1alpha1.Application)   { a.Spec.Suspend = true }
func createNS(a *gitopsv1alpha1.Application)    { a.Spec.SyncPolicy.CreateNamespace = true }
func noDestination(a *gitopsv1alpha1.Application) {
	a.Spec.Destination.Namespace = ""
}

// failed: the last reconcile at this revision failed to apply.
func failed(a *gitopsv1alpha1.Application) {
	a.Status.Sync.Status = gitopsv1alpha1.SyncStatusOutOfSync
	a.Status.Conditions = []metav1.Condition{{Type: gitopsv1alpha1.ConditionStalled, Status: metav1.ConditionFalse, Reason: gitopsv1alpha1.ReasonApplyFailed}}
}

// hookFailed: the last sync, of commit synced, stopped at a failed hook.
func hookFailed(a *gitopsv1alpha1.Application) {
	a.Status.SourceRevision = synced
	a.Status.Sync.Status = gitopsv1alpha1.SyncStatusOutOfSync
	a.Status.Conditions = []metav1.Condition{{Type: gitopsv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: gitopsv1alpha1.ReasonHookFailed, Message: "PreSync hook Job/migrate: failed"}}
}

// hookRefused: the last sync, of commit synced, stopped because the cluster refused to create a
// hook (retried).
func hookRefused(a *gitopsv1alpha1.Application) {
	hookFailed(a)
	a.Status.Conditions[0].Status = metav1.ConditionFalse
}

// outOfSync: the last reconcile at this revision succeeded and found the objects differ.
func outOfSync(a *gitopsv1alpha1.Application) {
	a.Status.Sync.Status = gitopsv1alpha1.SyncStatusOutOfSync
	a.Status.Conditions = []metav1.Condition{{Type: gitopsv1alpha1.ConditionStalled, Status: metav1.ConditionFalse, Reason: gitopsv1alpha1.ReasonSucceeded}}
}

func op(edits ...func(*gitopsv1alpha1.Operation)) *gitopsv1alpha1.Operation {
	o := &gitopsv1alpha1.Operation{ID: "op-1", Phase: gitopsv1alpha1.OperationRunning, RequestedBy: gitopsv1alpha1.RequestedBy{Username: "alice"}}
	for _, e := range edits {
		e(o)
	}
	return o
}

func TestDecide(t *testing.T) {
	onlyWeb := []gitopsv1alpha1.SyncResource{{Group: "apps", Kind: "Deployment", Name: "web"}}
	cases := []struct {
		name    string
		app     *gitopsv1alpha1.Application
		op      *gitopsv1alpha1.Operation
		sha     string
		drifted bool
		want    Plan
	}{
		// Manual: compare when something may have changed, never apply.
		{"manual, never compared", app(neverSynced), nil, synced, false, Plan{Action: ActionCompare}},
		{"manual, compared at this revision", app(), nil, synced, false, Plan{Action: ActionNone}},
		{"manual, out of sync at this revision", app(outOfSync), nil, synced, false, Plan{Action: ActionCompare}},
		{"manual, new revision", app(), nil, newer, false, Plan{Action: ActionCompare}},
		{"manual, spec edited", app(specEdited), nil, synced, false, Plan{Action: ActionCompare}},
		{"manual, drift", app(), nil, synced, true, Plan{Action: ActionCompare}},
		{"manual with createNamespace, new revision: still only compares", app(createNS), nil, newer, false, Plan{Action: ActionCompare}},

		// Automated.
		{"automated, never synced", app(neverSynced, automated(false, false)), nil, synced, false, Plan{Action: ActionApply, RunHooks: true}},
		{"automated, synced at this revision", app(automated(true, true)), nil, synced, false, Plan{Action: ActionNone}},
		{"automated, new revision", app(automated(false, false)), nil, newer, false, Plan{Action: ActionApply, RunHooks: true}},
		{"automated+prune, new revision", app(automated(true, false)), nil, newer, false, Plan{Action: ActionApply, RunHooks: true, Prune: true}},
		{"automated+prune, spec edited", app(automated(true, false), specEdited), nil, synced, false, Plan{Action: ActionApply, RunHooks: true, Prune: true}},
		{"automated, a failed sync at this revision is tried again", app(automated(false, false), failed), nil, synced, false, Plan{Action: ActionApply, RunHooks: true}},
		{"automated, a failed prune at this revision is tried again", app(automated(true, false), failed), nil, synced, false, Plan{Action: ActionApply, RunHooks: true, Prune: true}},
		{"automated without prune, objects kept at this revision: report, do not apply", app(automated(false, false), outOfSync), nil, synced, false, Plan{Action: ActionCompare}},
		{"automated with createNamespace", app(automated(false, false), createNS), nil, newer, false, Plan{Action: ActionApply, RunHooks: true, CreateNamespace: true}},
		{"automated with createNamespace but no destination", app(automated(false, false), createNS, noDestination), nil, newer, false, Plan{Action: ActionApply, RunHooks: true}},

		{"automated, a hook failed at this revision: not run again by itself", app(automated(true, false), hookFailed), nil, synced, false, Plan{Action: ActionCompare, Held: "PreSync hook Job/migrate: failed"}},
		{"automated, a hook failed, then a new revision: applied with its hooks", app(automated(true, false), hookFailed), nil, newer, false, Plan{Action: ActionApply, Prune: true, RunHooks: true}},
		{"automated, a hook failed, then the spec changed: applied with its hooks", app(automated(false, false), hookFailed, specEdited), nil, synced, false, Plan{Action: ActionApply, RunHooks: true}},
		{"automated, a hook the cluster refused to create is retried", app(automated(false, false), hookRefused), nil, synced, false, Plan{Action: ActionApply, RunHooks: true}},
		{"a requested sync after a failed hook runs it again", app(automated(false, false), hookFailed), op(), synced, false, Plan{Action: ActionApply, RunHooks: true}},

		// Drift.
		{"drift, selfHeal off: report only", app(automated(true, false)), nil, synced, true, Plan{Action: ActionCompare}},
		{"drift reported, selfHeal off, at the next interval: still not reverted", app(automated(true, false), outOfSync), nil, synced, false, Plan{Action: ActionCompare}},
		{"drift, selfHeal on: put Git's version back", app(automated(true, true)), nil, synced, true, Plan{Action: ActionApply, Prune: true, SelfHeal: true}},
		{"drift, selfHeal off, and a new revision: the revision is applied", app(automated(false, false)), nil, newer, true, Plan{Action: ActionApply, RunHooks: true}},
		{"drift, selfHeal off, spec edited: applied", app(automated(false, false), specEdited), nil, synced, true, Plan{Action: ActionApply, RunHooks: true}},

		// Suspend wins over everything.
		{"suspended, automated, new revision", app(automated(true, true), suspended), nil, newer, true, Plan{Action: ActionNone}},
		{"suspended with a requested sync", app(suspended), op(), newer, false, Plan{Action: ActionNone}},

		// Requested syncs.
		{"sync of a manual Application", app(), op(), synced, false, Plan{Action: ActionApply, RunHooks: true}},
		{"sync with prune", app(), op(func(o *gitopsv1alpha1.Operation) { o.Prune = true }), synced, false, Plan{Action: ActionApply, RunHooks: true, Prune: true}},
		{"sync without prune of an automated+prune Application prunes", app(automated(true, false)), op(), synced, false, Plan{Action: ActionApply, RunHooks: true, Prune: true}},
		{"dry-run sync with createNamespace creates nothing", app(createNS), op(func(o *gitopsv1alpha1.Operation) { o.DryRun = true; o.Prune = true }), synced, false,
			Plan{Action: ActionApply, RunHooks: true, DryRun: true, Prune: true}},
		{"sync at another revision", app(automated(false, false)), op(func(o *gitopsv1alpha1.Operation) { o.Revision = "v1.0.0" }), newer, false, Plan{Action: ActionApply, RunHooks: true}},
		{"sync of some resources", app(), op(func(o *gitopsv1alpha1.Operation) { o.Resources = onlyWeb }), synced, false, Plan{Action: ActionApply, RunHooks: true, Resources: onlyWeb}},
		{"sync of some resources with prune prunes nothing", app(automated(true, false)), op(func(o *gitopsv1alpha1.Operation) { o.Resources = onlyWeb; o.Prune = true }), synced, false,
			Plan{Action: ActionApply, RunHooks: true, Resources: onlyWeb}},
		{"sync with createNamespace", app(createNS), op(), synced, false, Plan{Action: ActionApply, RunHooks: true, CreateNamespace: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Decide(tc.app, tc.op, tc.sha, tc.drifted)
			if got.Why == "" {
				t.Error("the plan does not say why")
			}
			got.Why = ""
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("no"))
	cases := []struct {
		name      string
		err       error
		retryable bool
		reason    string
	}{
		{"Git unreachable", &StageError{Reason: gitopsv1alpha1.ReasonGitFailed, Err: errors.New("connection refused")}, true, ""},
		{"revision not found", &StageError{Reason: gitopsv1alpha1.ReasonGitFailed, Terminal: true, Err: errors.New("no such branch")}, false, ""},
		{"invalid manifest", &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Terminal: true, Err: errors.New("no kind")}, false, ""},
		{"a panic", &StageError{Reason: gitopsv1alpha1.ReasonInternalError, Err: errors.New("boom")}, true, ""},
		{"wrapped terminal", fmt.Errorf("syncing: %w", &StageError{Terminal: true, Err: errors.New("x")}), false, ""},
		{"an error from outside the engine", errors.New("status write failed"), true, ""},
		{"dry run refused by the server", applyError(&apply.DryRunRefusedError{Refused: 1, Total: 3, Err: errors.New(`ConfigMap "x" is invalid`)}, nil), false, gitopsv1alpha1.ReasonApplyFailed},
		{"the identity lacks a permission: granting it cures it", applyError(fmt.Errorf("applying: %w", forbidden), nil), true, gitopsv1alpha1.ReasonForbidden},
		{"a dry run refused for lack of permission: retried too", applyError(&apply.DryRunRefusedError{Refused: 1, Total: 1, Err: forbidden}, nil), true, gitopsv1alpha1.ReasonForbidden},
	}
	for _, tc := range cases {
		if got := Retryable(tc.err); got != tc.retryable {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, tc.retryable)
		}
		if tc.reason != "" {
			var stage *StageError
			if !errors.As(tc.err, &stage) || stage.Reason != tc.reason {
				t.Errorf("%s: reason %v, want %s", tc.name, tc.err, tc.reason)
			}
		}
	}
}
