package engine

import (
	"context"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/redact"
)

// hookOutcome is how one hook run ended.
type hookOutcome struct {
	ok bool
	// ran: the hook object was created and finished (or timed out); otherwise the cluster
	// refused it, which a retry may cure.
	ran     bool
	message string
}

// runHook runs one hook of app to its end: the previous run's object deleted first
// (BeforeHookCreation, for a named hook, and only when app ran it as a hook), a new object created as the Application's identity, its completion awaited
// within timeout (a Job complete or failed, a Pod succeeded or failed, anything else Healthy or
// Degraded), and the object deleted afterwards when its delete policy says so. step is kept up to
// date, and report called as it changes.
func (e *Engine) runHook(ctx context.Context, as Actor, app apply.App, h hooks.Hook, timeout time.Duration, step *gitopsv1alpha1.OperationStep, report func()) hookOutcome {
	obj := h.Object.DeepCopy()
	fail := func(msg string, ran bool) hookOutcome {
		// The server may quote what it refused: a hook that is a Secret keeps its values out.
		msg = redact.FromObjects([]*unstructured.Unstructured{h.Object}).String(msg)
		step.Phase, step.Message = gitopsv1alpha1.OperationFailed, msg
		report()
		return hookOutcome{ran: ran, message: msg}
	}
	step.Phase, step.Message = gitopsv1alpha1.OperationRunning, "starting"
	report()
	if obj.GetName() != "" && slices.Contains(h.Policies, hooks.BeforeHookCreation) {
		if err := as.Applier.DeleteHook(ctx, as.User, app, apply.RefOf(obj), true, timeout); err != nil {
			return fail(err.Error(), false)
		}
	}
	created, err := as.Applier.CreateHook(ctx, as.User, obj)
	if err != nil {
		return fail(err.Error(), false)
	}
	ref := apply.RefOf(created)
	step.Name, step.Message = created.GetName(), "running"
	report()
	ok, msg := e.awaitHook(ctx, as, ref, timeout)
	if ok && slices.Contains(h.Policies, hooks.HookSucceeded) || !ok && slices.Contains(h.Policies, hooks.HookFailed) {
		if err := as.Applier.DeleteHook(ctx, as.User, app, ref, false, 0); err != nil {
			msg += "; " + err.Error()
		}
	}
	if !ok {
		return fail(msg, true)
	}
	step.Phase, step.Message = gitopsv1alpha1.OperationSucceeded, msg
	report()
	return hookOutcome{ok: true, ran: true, message: msg}
}

// awaitHook polls a hook object until it has finished, and says whether it succeeded.
func (e *Engine) awaitHook(ctx context.Context, as Actor, ref apply.ObjectRef, timeout time.Duration) (bool, string) {
	var ok bool
	var last string
	err := wait.PollUntilContextTimeout(ctx, waveWaitInterval, timeout, true, func(ctx context.Context) (bool, error) {
		live, err := as.Applier.Live(ctx, as.User, ref)
		switch {
		case err != nil:
			last = err.Error()
			return false, nil
		case live == nil:
			last = fmt.Sprintf("%s/%s was deleted before it finished", ref.Kind, ref.Name)
			return true, nil
		}
		var done bool
		done, ok, last = hooks.Finished(live)
		return done, nil
	})
	if err != nil {
		return false, fmt.Sprintf("%s/%s did not finish within %s (spec.syncPolicy.waveTimeout): %s", ref.Kind, ref.Name, timeout, last)
	}
	return ok, last
}
