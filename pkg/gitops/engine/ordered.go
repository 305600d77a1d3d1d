package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
)

// orderedSync is one sync that names waves or hooks. After a dry run of every object (nothing is
// written unless the whole set passes), it runs the PreSync hooks; then each wave: its objects
// applied, its Sync hooks run, and — before the next wave, or the PostSync hooks — every object of
// it Healthy; then the prune; then the PostSync hooks. A failure anywhere stops it and runs the
// SyncFail hooks. Its steps, in the order they run, are in out.Steps and told to req.Progress.
type orderedSync struct {
	ctx     context.Context
	e       *Engine
	req     SyncRequest
	as      Actor
	desired []*unstructured.Unstructured
	opts    apply.Options
	out     *Outcome
	timeout time.Duration

	steps []gitopsv1alpha1.OperationStep
}

func (o *orderedSync) report() {
	o.out.Steps = slices.Clone(o.steps)
	if o.req.Progress != nil {
		o.req.Progress(slices.Clone(o.steps))
	}
}

// hookStep is the step of a hook that has not run yet; a hook the server names is shown by its
// generateName until it is created.
func hookStep(t hooks.Type, h hooks.Hook) gitopsv1alpha1.OperationStep {
	name := h.Object.GetName()
	if name == "" {
		name = h.Object.GetGenerateName() + "*"
	}
	return gitopsv1alpha1.OperationStep{Type: gitopsv1alpha1.OperationStepHook, Hook: string(t), Wave: h.Wave,
		Kind: h.Object.GetKind(), Name: name, Phase: gitopsv1alpha1.OperationPending}
}

// scheduled is a hook and the index of its step.
type scheduled struct {
	hooks.Hook
	step int
}

// stage is one wave's objects and the Sync hooks of the same wave.
type stage struct {
	wave      Wave
	step      int // index of the wave's step, -1 when it has no objects
	syncHooks []scheduled
}

// run carries the sync out; afterWaves (the prune) runs once every wave is in. It reports false
// when the sync stopped (out.Err says why).
func (o *orderedSync) run(waves []Wave, hookList []hooks.Hook, afterWaves func()) bool {
	byType := map[hooks.Type][]hooks.Hook{}
	for _, h := range hookList {
		for _, t := range h.Types {
			byType[t] = append(byType[t], h)
		}
	}
	// The steps, in the order they run: PreSync hooks, the waves with their Sync hooks, PostSync
	// hooks. SyncFail hooks are added when they run.
	schedule := func(t hooks.Type, h hooks.Hook) scheduled {
		o.steps = append(o.steps, hookStep(t, h))
		return scheduled{Hook: h, step: len(o.steps) - 1}
	}
	var pre, post []scheduled
	for _, h := range byType[hooks.PreSync] {
		pre = append(pre, schedule(hooks.PreSync, h))
	}
	stages := map[int32]*stage{}
	for _, w := range waves {
		stages[w.Number] = &stage{wave: w, step: -1}
	}
	for _, h := range byType[hooks.Sync] {
		if stages[h.Wave] == nil {
			stages[h.Wave] = &stage{wave: Wave{Number: h.Wave}, step: -1}
		}
	}
	var order []*stage
	for _, s := range stages {
		order = append(order, s)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].wave.Number < order[j].wave.Number })
	for _, s := range order {
		if n := len(s.wave.Objects); n > 0 {
			s.step = len(o.steps)
			o.steps = append(o.steps, gitopsv1alpha1.OperationStep{Type: gitopsv1alpha1.OperationStepWave, Wave: s.wave.Number, Objects: int32(n), Phase: gitopsv1alpha1.OperationPending})
		}
		for _, h := range byType[hooks.Sync] {
			if h.Wave == s.wave.Number {
				s.syncHooks = append(s.syncHooks, schedule(hooks.Sync, h))
			}
		}
	}
	for _, h := range byType[hooks.PostSync] {
		post = append(post, schedule(hooks.PostSync, h))
	}

	if !o.sync(pre, order, post, afterWaves) {
		o.syncFail(byType[hooks.SyncFail])
		return false
	}
	o.report()
	return true
}

// objectCount is "1 object", "3 objects".
func objectCount(n int) string {
	return fmt.Sprintf("%d %s", n, plural(n, "object", "objects"))
}

func (o *orderedSync) sync(pre []scheduled, order []*stage, post []scheduled, afterWaves func()) bool {
	ctx := o.ctx
	dryRun := o.opts
	dryRun.DryRun, dryRun.Cached = true, nil
	if _, err := o.as.Applier.Apply(ctx, o.as.User, o.desired, dryRun); err != nil {
		o.out.Err = applyError(err, o.desired)
		return false
	}
	for _, h := range pre {
		if !o.hook(ctx, h, "PreSync") {
			return false
		}
	}
	for i, s := range order {
		if s.step >= 0 {
			o.steps[s.step].Phase, o.steps[s.step].Message = gitopsv1alpha1.OperationRunning, "applying "+objectCount(len(s.wave.Objects))
			o.report()
			results, err := o.as.Applier.Apply(ctx, o.as.User, s.wave.Objects, o.opts)
			o.out.Applied = append(o.out.Applied, results...)
			if err != nil {
				o.out.Err = applyError(err, o.desired)
				o.steps[s.step].Phase, o.steps[s.step].Message = gitopsv1alpha1.OperationFailed, o.out.Err.Error()
				return false
			}
		}
		for _, h := range s.syncHooks {
			if !o.hook(ctx, h, "Sync") {
				return false
			}
		}
		if s.step < 0 {
			continue
		}
		// The next wave, or the PostSync hooks, wait for this wave to be Healthy.
		if i < len(order)-1 || len(post) > 0 {
			o.steps[s.step].Message = "applied; waiting until its objects are Healthy"
			o.report()
			if err := waitForWave(ctx, s.wave, o.req.Health, o.timeout); err != nil {
				o.out.Err = &StageError{Reason: gitopsv1alpha1.ReasonWaveFailed, Err: fmt.Errorf("%w; the waves after it were not applied", err)}
				o.steps[s.step].Phase, o.steps[s.step].Message = gitopsv1alpha1.OperationFailed, err.Error()
				return false
			}
			o.steps[s.step].Phase, o.steps[s.step].Message = gitopsv1alpha1.OperationSucceeded, objectCount(len(s.wave.Objects))+" applied and Healthy"
			continue
		}
		o.steps[s.step].Phase, o.steps[s.step].Message = gitopsv1alpha1.OperationSucceeded, objectCount(len(s.wave.Objects))+" applied"
	}
	afterWaves()
	if o.out.Err != nil {
		return false
	}
	for _, h := range post {
		if !o.hook(ctx, h, "PostSync") {
			return false
		}
	}
	return true
}

// hook runs one scheduled hook; a failure fails the sync.
func (o *orderedSync) hook(ctx context.Context, h scheduled, what string) bool {
	res := o.e.runHook(ctx, o.as, AppOf(o.req.App), h.Hook, o.timeout, &o.steps[h.step], o.report)
	if res.ok {
		return true
	}
	// A hook that ran and failed needs a person; one the cluster refused to create (a missing
	// permission, the API unavailable) is retried.
	o.out.Err = &StageError{Reason: gitopsv1alpha1.ReasonHookFailed, Terminal: res.ran,
		Err: fmt.Errorf("%s hook %s: %s; the sync stopped there", what, hooks.Name(h.Object), res.message)}
	return false
}

// syncFail runs the SyncFail hooks after the sync failed; their own failures are added to the
// sync's error.
func (o *orderedSync) syncFail(list []hooks.Hook) {
	ctx := o.ctx
	for _, h := range list {
		o.steps = append(o.steps, hookStep(hooks.SyncFail, h))
		res := o.e.runHook(ctx, o.as, AppOf(o.req.App), h, o.timeout, &o.steps[len(o.steps)-1], o.report)
		if !res.ok {
			o.out.Err = fmt.Errorf("%w; SyncFail hook %s: %s", o.out.Err, hooks.Name(h.Object), res.message)
		}
	}
	o.report()
}
