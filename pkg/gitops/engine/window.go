package engine

import (
	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
)

// holdForWindow is the plan while a SyncWindow blocks syncs: an apply the sync policy decided by
// itself (a new revision or spec, selfHeal) becomes a comparison, so the Application shows
// OutOfSync with the new commit and applies it once the window lets it. A requested operation
// goes as asked: /sync and /rollback checked the windows when it was recorded.
func holdForWindow(plan Plan, op *gitopsv1alpha1.Operation, window syncwindow.Verdict) Plan {
	if op != nil || !window.Blocked || plan.Action != ActionApply {
		return plan
	}
	return Plan{Action: ActionCompare, HeldByWindow: true, SelfHeal: plan.SelfHeal,
		Why: window.String() + ": held, instead of: " + plan.Why}
}
