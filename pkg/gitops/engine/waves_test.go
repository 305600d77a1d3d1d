package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

func inWave(o *unstructured.Unstructured, key, wave string) *unstructured.Unstructured {
	o.SetAnnotations(map[string]string{key: wave})
	return o
}

func TestWavesOfGroupsInOrder(t *testing.T) {
	objs := []*unstructured.Unstructured{
		inWave(object("apps/v1", "Deployment", "shop", "web"), syncwave.Annotation, "1"),
		object("v1", "Service", "shop", "web"),
		inWave(object("batch/v1", "Job", "shop", "migrate"), syncwave.ArgoCDAnnotation, "-1"),
		object("v1", "ConfigMap", "shop", "settings"),
		inWave(object("v1", "ConfigMap", "shop", "smoke"), syncwave.Annotation, "10"),
	}
	waves, err := WavesOf(objs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range waves {
		var names []string
		for _, o := range w.Objects {
			names = append(names, o.GetKind()+"/"+o.GetName())
		}
		got = append(got, fmt.Sprintf("%d:%s", w.Number, strings.Join(names, ",")))
	}
	want := "-1:Job/migrate 0:Service/web,ConfigMap/settings 1:Deployment/web 10:ConfigMap/smoke"
	if strings.Join(got, " ") != want {
		t.Errorf("waves %q, want %q", strings.Join(got, " "), want)
	}
}

func TestWavesOfNamesEveryMalformedObject(t *testing.T) {
	_, err := WavesOf([]*unstructured.Unstructured{
		inWave(object("v1", "ConfigMap", "shop", "a"), syncwave.Annotation, "one"),
		object("v1", "ConfigMap", "shop", "fine"),
		inWave(object("apps/v1", "Deployment", "shop", "web"), syncwave.ArgoCDAnnotation, "1e3"),
	})
	if err == nil {
		t.Fatal("malformed waves were accepted")
	}
	for _, want := range []string{"ConfigMap/shop/a", `"one"`, "Deployment.apps/shop/web", `"1e3"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

// TestWaitForWave: a wave is done when all its objects are Healthy or Suspended; a Degraded one
// ends the wait at once; otherwise the wait ends at the timeout, naming the object not ready.
func TestWaitForWave(t *testing.T) {
	w := Wave{Number: 2, Objects: []*unstructured.Unstructured{
		object("v1", "ConfigMap", "shop", "settings"),
		object("apps/v1", "Deployment", "shop", "web"),
	}}
	judgeAll := func(web health.Status) HealthFunc {
		return func(_ context.Context, ref apply.ObjectRef) health.Status {
			if ref.Kind == "Deployment" {
				return web
			}
			return health.Status{Code: gitopsv1alpha1.HealthHealthy}
		}
	}
	ctx := context.Background()
	if err := waitForWave(ctx, w, judgeAll(health.Status{Code: gitopsv1alpha1.HealthSuspended}), time.Second); err != nil {
		t.Errorf("a paused Deployment held the wave: %v", err)
	}
	start := time.Now()
	err := waitForWave(ctx, w, judgeAll(health.Status{Code: gitopsv1alpha1.HealthDegraded, Message: "ProgressDeadlineExceeded"}), time.Hour)
	if err == nil || !strings.Contains(err.Error(), "wave 2: Deployment/web is Degraded: ProgressDeadlineExceeded") {
		t.Errorf("a Degraded Deployment: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("a Degraded object was waited for until the timeout")
	}
	err = waitForWave(ctx, w, judgeAll(health.Status{Code: gitopsv1alpha1.HealthProgressing, Message: "1 of 2 available"}), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "Deployment/web is Progressing: 1 of 2 available after 300ms (spec.syncPolicy.waveTimeout)") {
		t.Errorf("a Deployment never Available: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := waitForWave(cancelled, w, judgeAll(health.Status{Code: gitopsv1alpha1.HealthProgressing}), time.Hour); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("a cancelled wait: %v", err)
	}
}
