package engine

import (
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestHoldRollback(t *testing.T) {
	held := &gitopsv1alpha1.Application{Status: gitopsv1alpha1.ApplicationStatus{
		Rollback: &gitopsv1alpha1.RollbackStatus{Revision: "good", From: "bad"},
	}}
	for _, tc := range []struct {
		name      string
		app       *gitopsv1alpha1.Application
		op        *gitopsv1alpha1.Operation
		resolved  string
		want      string
		wantState RollbackState
	}{
		{"no rollback: Git's revision", &gitopsv1alpha1.Application{}, nil, "bad", "bad", RollbackNone},
		{"Git still names the bad revision: held", held, nil, "bad", "good", RollbackHeld},
		{"Git moved on: the hold ends", held, nil, "fix", "fix", RollbackEnded},
		{"a requested operation goes where it asks", held, &gitopsv1alpha1.Operation{Revision: "bad"}, "bad", "bad", RollbackNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out Outcome
			if got := out.holdRollback(tc.app, tc.op, tc.resolved); got != tc.want || out.Rollback != tc.wantState {
				t.Errorf("holdRollback = %q (%q), want %q (%q)", got, out.Rollback, tc.want, tc.wantState)
			}
		})
	}
}
