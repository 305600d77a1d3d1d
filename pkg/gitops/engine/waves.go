package engine

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

// Wave is the objects of one sync wave (package syncwave).
type Wave struct {
	Number  int32
	Objects []*unstructured.Unstructured
}

// WavesOf groups objects by sync wave, lowest first, keeping their order within a wave. Every
// malformed annotation is reported at once, each naming its object.
func WavesOf(objs []*unstructured.Unstructured) ([]Wave, error) {
	byNumber := map[int32][]*unstructured.Unstructured{}
	var problems []string
	for _, o := range objs {
		n, err := syncwave.Of(o)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", apply.RefOf(o), err))
			continue
		}
		byNumber[n] = append(byNumber[n], o)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	waves := make([]Wave, 0, len(byNumber))
	for n, objects := range byNumber {
		waves = append(waves, Wave{Number: n, Objects: objects})
	}
	sort.Slice(waves, func(i, j int) bool { return waves[i].Number < waves[j].Number })
	return waves, nil
}

// waveDone reports whether every object of a wave is ready for the next one: Healthy, or
// Suspended on purpose (a paused Deployment). A Degraded object fails the wave at once:
// waiting does not mend a failed Job or a rollout past its deadline.
func waveDone(ctx context.Context, objects []*unstructured.Unstructured, judge HealthFunc) (done bool, waiting string, err error) {
	for _, o := range objects {
		ref := apply.RefOf(o)
		h := judge(ctx, ref)
		switch h.Code {
		case gitopsv1alpha1.HealthHealthy, gitopsv1alpha1.HealthSuspended:
			continue
		case gitopsv1alpha1.HealthDegraded:
			return false, "", fmt.Errorf("%s/%s is Degraded: %s", ref.Kind, ref.Name, h.Message)
		}
		if waiting == "" {
			waiting = describeWaiting(ref, h)
		}
	}
	return waiting == "", waiting, nil
}

func describeWaiting(ref apply.ObjectRef, h health.Status) string {
	msg := fmt.Sprintf("%s/%s is %s", ref.Kind, ref.Name, h.Code)
	if h.Message != "" {
		msg += ": " + h.Message
	}
	return msg
}

// waveWaitInterval is how often a wave's health is judged again while the sync waits for it;
// the judge reads the controller's watch cache, so a short interval costs the cluster nothing.
const waveWaitInterval = 250 * time.Millisecond

// waitForWave polls the health of a wave's objects until all are ready, one is Degraded, or
// timeout passes; the error names the object that is not ready.
func waitForWave(parent context.Context, w Wave, judge HealthFunc, timeout time.Duration) error {
	var waiting string
	var failed error
	err := wait.PollUntilContextTimeout(parent, waveWaitInterval, timeout, true, func(ctx context.Context) (bool, error) {
		var done bool
		done, waiting, failed = waveDone(ctx, w.Objects, judge)
		return done, failed
	})
	switch {
	case err == nil:
		return nil
	case failed != nil:
		return fmt.Errorf("wave %d: %w", w.Number, failed)
	case parent.Err() != nil:
		return fmt.Errorf("wave %d: stopped while %s: %w", w.Number, waiting, parent.Err())
	}
	return fmt.Errorf("wave %d: %s after %s (spec.syncPolicy.waveTimeout)", w.Number, waiting, timeout)
}

// waveTimeoutOf is spec.syncPolicy.waveTimeout, or its default.
func waveTimeoutOf(app *gitopsv1alpha1.Application) time.Duration {
	if t := app.Spec.SyncPolicy.WaveTimeout; t != nil && t.Duration > 0 {
		return t.Duration
	}
	return gitopsv1alpha1.DefaultWaveTimeout
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
