package application

import (
	"context"
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

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

// activeOperation is the Application's operation while it is to run (Pending) or running;
// nil otherwise.
func activeOperation(app *gitopsv1alpha1.Application) *gitopsv1alpha1.Operation {
	if op := app.Status.Operation; op != nil && (op.Phase == gitopsv1alpha1.OperationPending || op.Phase == gitopsv1alpha1.OperationRunning) {
		return op
	}
	return nil
}

// startOperation marks a Pending operation Running before anything is done: a crash from here
// on leaves it Running, and a Running operation is executed again when Ferry restarts — apply is
// idempotent. It returns the operation as written.
func (c *Controller) startOperation(ctx context.Context, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation) (*gitopsv1alpha1.Operation, error) {
	now := metav1.Now()
	running := op.DeepCopy()
	running.Phase = gitopsv1alpha1.OperationRunning
	running.StartedAt = &now
	if err := c.writeStatus(ctx, app, func(st *gitopsv1alpha1.ApplicationStatus) {
		st.Operation = running
		setCondition(st, app, gitopsv1alpha1.ConditionReconciling, metav1.ConditionTrue, gitopsv1alpha1.ReasonOperationRunning,
			fmt.Sprintf("sync %s requested by %s is running", op.ID, op.RequestedBy.Username))
	}); err != nil {
		return nil, err
	}
	return app.Status.Operation, nil // writeStatus refreshed app from the server's answer
}

// finishOperation writes the outcome's operation as finished, Succeeded or Failed, and records
// it first in the history (of at most MaxHistory).
func (o outcome) finishOperation(st *gitopsv1alpha1.ApplicationStatus) {
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
	prependHistory(st, record)
}

// prependHistory records an operation first in the history, which keeps the newest MaxHistory.
func prependHistory(st *gitopsv1alpha1.ApplicationStatus, record gitopsv1alpha1.OperationRecord) {
	st.History = append([]gitopsv1alpha1.OperationRecord{record}, st.History...)
	if len(st.History) > gitopsv1alpha1.MaxHistory {
		st.History = st.History[:gitopsv1alpha1.MaxHistory]
	}
}
