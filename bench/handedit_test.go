package main

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// scriptedDeployments answers Watch with the next scripted stream of events (then closes it)
// and Get with the current object: kube-apiserver as the driver meets it, including a watch that
// cannot start from an old resourceVersion.
type scriptedDeployments struct {
	streams [][]watch.Event
	current *appsv1.Deployment
	watches []string // the resourceVersion each watch started from
}

func (s *scriptedDeployments) Watch(_ context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	s.watches = append(s.watches, opts.ResourceVersion)
	w := watch.NewFakeWithChanSize(10, false)
	if len(s.streams) > 0 {
		for _, ev := range s.streams[0] {
			w.Action(ev.Type, ev.Object)
		}
		s.streams = s.streams[1:]
	}
	w.Stop()
	return w, nil
}

func (s *scriptedDeployments) Get(context.Context, string, metav1.GetOptions) (*appsv1.Deployment, error) {
	return s.current, nil
}

func deploymentWithVersion(rv, value string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "app-00000", ResourceVersion: rv},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Env: []corev1.EnvVar{{Name: "VERSION", Value: value}},
		}}}}},
	}
}

// The heal of a hand edit is seen whether it arrives on the watch, or only once the watch can no
// longer start from the edit's resourceVersion (410 Gone after minutes of a large sync, when Argo
// CD had healed in 5 s and the driver waited out its 3 minutes).
func TestWaitDeploymentRestored(t *testing.T) {
	gone := &apierrors.NewResourceExpired("too old resource version: 10 (2000)").ErrStatus
	for name, c := range map[string]struct {
		d       *scriptedDeployments
		healed  bool
		watches int
	}{
		"healed on the watch": {d: &scriptedDeployments{streams: [][]watch.Event{{
			{Type: watch.Modified, Object: deploymentWithVersion("11", "edited by hand")},
			{Type: watch.Modified, Object: deploymentWithVersion("12", "v2")},
		}}}, healed: true, watches: 1},
		"the watch closes, and goes on from the last version seen": {d: &scriptedDeployments{streams: [][]watch.Event{
			{{Type: watch.Modified, Object: deploymentWithVersion("11", "edited by hand")}},
			{{Type: watch.Modified, Object: deploymentWithVersion("13", "v2")}},
		}}, healed: true, watches: 2},
		"the edit's version is too old to watch from, and the Deployment is healed": {d: &scriptedDeployments{
			streams: [][]watch.Event{{{Type: watch.Error, Object: gone}}},
			current: deploymentWithVersion("2001", "v2"),
		}, healed: true, watches: 1},
		"too old to watch from, still edited: watched again from what was read": {d: &scriptedDeployments{
			streams: [][]watch.Event{{{Type: watch.Error, Object: gone}}, {{Type: watch.Modified, Object: deploymentWithVersion("2002", "v2")}}},
			current: deploymentWithVersion("2001", "edited by hand"),
		}, healed: true, watches: 2},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := waitDeploymentRestored(context.Background(), c.d, "app-00000", "10", 5*time.Second)
			if c.healed && err != nil {
				t.Fatalf("not seen healed: %v", err)
			}
			if len(c.d.watches) != c.watches {
				t.Errorf("watched %d times (from %v), want %d", len(c.d.watches), c.d.watches, c.watches)
			}
			if len(c.d.watches) == 2 && c.d.watches[1] == "10" {
				t.Errorf("the second watch started from the edit's version again: %v", c.d.watches)
			}
		})
	}
	// Never healed: the wait ends at its timeout with an error.
	never := &scriptedDeployments{streams: [][]watch.Event{{{Type: watch.Error, Object: gone}}}, current: deploymentWithVersion("2001", "edited by hand")}
	if _, err := waitDeploymentRestored(context.Background(), never, "app-00000", "10", 200*time.Millisecond); err == nil {
		t.Error("an edit that is never healed was reported healed")
	}
}
