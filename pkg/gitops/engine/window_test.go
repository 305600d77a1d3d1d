package engine

import (
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
)

// TestHoldForWindow: while a SyncWindow blocks, what the sync policy would apply by itself (a new
// commit, selfHeal) is only compared, so the Application shows OutOfSync and applies it when the
// window ends; a requested operation, a comparison and nothing-to-do stay as they are, and an
// open window changes nothing.
func TestHoldForWindow(t *testing.T) {
	blocked := syncwindow.Verdict{Selected: true, Blocked: true, Reason: gitopsv1alpha1.ReasonDenyWindow, Window: "team/freeze",
		Until: time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)}
	open := syncwindow.Verdict{Selected: true}
	newCommit := Plan{Action: ActionApply, Prune: true, RunHooks: true, Why: "automated: a new revision or spec, or not yet synced"}
	selfHeal := Plan{Action: ActionApply, SelfHeal: true, Why: "drifted: selfHeal puts Git's version back"}
	requested := Plan{Action: ActionApply, RunHooks: true, Why: "sync 1 requested by carol"}
	compare := Plan{Action: ActionCompare, Why: "manual"}
	none := Plan{Action: ActionNone, Why: "synced"}
	op := &gitopsv1alpha1.Operation{ID: "1"}
	for _, tc := range []struct {
		name   string
		plan   Plan
		op     *gitopsv1alpha1.Operation
		window syncwindow.Verdict
		want   Plan
	}{
		{"a new commit during a deny window is compared", newCommit, nil, blocked,
			Plan{Action: ActionCompare, HeldByWindow: true}},
		{"selfHeal during a deny window is compared, and remembered as selfHeal", selfHeal, nil, blocked,
			Plan{Action: ActionCompare, HeldByWindow: true, SelfHeal: true}},
		{"a requested operation runs (the registry let it through)", requested, op, blocked, requested},
		{"a comparison stays one", compare, nil, blocked, compare},
		{"nothing to do stays nothing", none, nil, blocked, none},
		{"an open window changes nothing", newCommit, nil, open, newCommit},
		{"no window changes nothing", newCommit, nil, syncwindow.Verdict{}, newCommit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := holdForWindow(tc.plan, tc.op, tc.window)
			if got.HeldByWindow && !strings.Contains(got.Why, "deny window team/freeze is in force until 2026-12-07T13:00:00Z") {
				t.Errorf("Why = %q, want it to name the window and its end", got.Why)
			}
			if got.HeldByWindow {
				got.Why = ""
			}
			if got.Action != tc.want.Action || got.HeldByWindow != tc.want.HeldByWindow || got.SelfHeal != tc.want.SelfHeal ||
				got.Prune != tc.want.Prune || got.RunHooks != tc.want.RunHooks {
				t.Errorf("holdForWindow = %+v, want %+v", got, tc.want)
			}
		})
	}
}
