package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/redact"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncoptions"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

// Hook is one hook object of a render (package hooks).
type Hook struct {
	Object   *unstructured.Unstructured
	Types    []hooks.Type
	Wave     int32
	Policies []hooks.DeletePolicy
}

// SplitHooks separates the hooks of a render from the objects the Application keeps applied (its
// resources); objects marked Skip are neither. Every malformed annotation (hook, delete policy,
// sync wave, sync options) is reported at once, each naming its object.
func SplitHooks(objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, []Hook, error) {
	var resources []*unstructured.Unstructured
	var found []Hook
	var problems []string
	for _, o := range objs {
		if _, err := syncoptions.Of(o); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", hookName(o), err))
			continue
		}
		types, err := hooks.Of(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", hookName(o), err))
			continue
		}
		if types == nil {
			resources = append(resources, o)
			continue
		}
		if slices.Contains(types, hooks.Skip) {
			continue
		}
		policies, err := hooks.DeletePoliciesOf(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", hookName(o), err))
			continue
		}
		wave, err := syncwave.Of(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", hookName(o), err))
			continue
		}
		found = append(found, Hook{Object: o, Types: types, Wave: wave, Policies: policies})
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	// Hooks of one type run by wave, then by kind and name: the same order at every sync.
	sort.SliceStable(found, func(i, j int) bool {
		if found[i].Wave != found[j].Wave {
			return found[i].Wave < found[j].Wave
		}
		return hookName(found[i].Object) < hookName(found[j].Object)
	})
	return resources, found, nil
}

// hookName is Kind/name, or Kind/generateName* for a hook that lets the server name it.
func hookName(o *unstructured.Unstructured) string {
	if o.GetName() == "" && o.GetGenerateName() != "" {
		return o.GetKind() + "/" + o.GetGenerateName() + "*"
	}
	return o.GetKind() + "/" + o.GetName()
}

// Resources drops the hooks and skipped objects of a render: what the Application keeps applied
// and compares. A malformed hook annotation leaves the object in, for the sync to report.
func Resources(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		if !hooks.IsHook(o) {
			out = append(out, o)
		}
	}
	return out
}

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
func (e *Engine) runHook(ctx context.Context, as Actor, app apply.App, h Hook, timeout time.Duration, step *gitopsv1alpha1.OperationStep, report func()) hookOutcome {
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
		done, ok, last = hookFinished(live)
		return done, nil
	})
	if err != nil {
		return false, fmt.Sprintf("%s/%s did not finish within %s (spec.syncPolicy.waveTimeout): %s", ref.Kind, ref.Name, timeout, last)
	}
	return ok, last
}

// hookFinished judges a hook object: whether it has finished, whether it succeeded, and what it
// says.
func hookFinished(live *unstructured.Unstructured) (done, ok bool, msg string) {
	name := live.GetKind() + "/" + live.GetName()
	switch live.GroupVersionKind().GroupKind().String() {
	case "Pod":
		phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
		switch phase {
		case "Succeeded":
			return true, true, name + " succeeded"
		case "Failed":
			return true, false, name + " failed"
		}
		return false, false, name + " is " + strings.ToLower(orPending(phase))
	}
	h := health.Of(live)
	switch h.Code {
	case gitopsv1alpha1.HealthHealthy:
		if live.GetKind() == "Job" {
			return true, true, name + " completed"
		}
		return true, true, name + " is Healthy"
	case gitopsv1alpha1.HealthDegraded:
		return true, false, name + " failed: " + h.Message
	}
	return false, false, name + " is " + string(h.Code) + ": " + h.Message
}

func orPending(phase string) string {
	if phase == "" {
		return "Pending"
	}
	return phase
}
