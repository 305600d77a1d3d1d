package engine

import gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"

// RollbackState says what a rollback in force did to one sync.
type RollbackState string

const (
	// RollbackNone: no rollback is in force, or a requested operation runs as it asks.
	RollbackNone RollbackState = ""
	// RollbackHeld: Git still names the revision rolled back from, so the sync policy works
	// at the revision rolled back to (a selfHeal restores that one, not the bad one).
	RollbackHeld RollbackState = "Held"
	// RollbackEnded: Git names another revision; the sync follows it and the hold is over.
	RollbackEnded RollbackState = "Ended"
)

// holdRollback is the revision a sync of the policy works at while status.rollback is set:
// the one rolled back to as long as Git resolves to the one rolled back from, else Git's. A
// requested operation (the rollback's own among them) goes where it asks.
func (out *Outcome) holdRollback(app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation, resolved string) string {
	hold := app.Status.Rollback
	if hold == nil || op != nil {
		return resolved
	}
	if resolved == hold.From {
		out.Rollback = RollbackHeld
		return hold.Revision
	}
	out.Rollback = RollbackEnded
	return resolved
}
