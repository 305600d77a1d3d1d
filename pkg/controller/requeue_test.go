package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestRetryDelayFollowsTheSpecsBackoff(t *testing.T) {
	c := &Controller{failures: map[string]int32{}}
	app := &gitopsv1alpha1.Application{Spec: gitopsv1alpha1.ApplicationSpec{SyncPolicy: gitopsv1alpha1.SyncPolicy{
		Retry: &gitopsv1alpha1.RetryStrategy{Limit: ptr.To[int32](4), Backoff: &gitopsv1alpha1.Backoff{
			Duration: &metav1.Duration{Duration: time.Second}, Factor: ptr.To[int32](3), MaxDuration: &metav1.Duration{Duration: 10 * time.Second},
		}},
	}}}
	interval := time.Hour
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, c.retryDelay("ns/a", app, interval))
	}
	want := []time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second, interval, interval}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v: 1s x3 capped at 10s, then the interval after 4 retries", got, want)
		}
	}
	c.forget("ns/a")
	if d := c.retryDelay("ns/a", app, interval); d != time.Second {
		t.Errorf("after a success the backoff starts over: %s", d)
	}
	noRetry := app.DeepCopy()
	noRetry.Spec.SyncPolicy.Retry.Limit = ptr.To[int32](0)
	if d := c.retryDelay("ns/b", noRetry, interval); d != interval {
		t.Errorf("limit 0 retried after %s instead of waiting for the interval", d)
	}
}

func TestOwnStatusWritesDoNotRequeue(t *testing.T) {
	base := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	op := func(id string, phase gitopsv1alpha1.OperationPhase) *gitopsv1alpha1.Application {
		a := base.DeepCopy()
		a.Status.Operation = &gitopsv1alpha1.Operation{ID: id, Phase: phase}
		return a
	}
	statusOnly := base.DeepCopy()
	statusOnly.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	specChange := base.DeepCopy()
	specChange.Generation = 3
	deleting := base.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	orphan := base.DeepCopy()
	orphan.Annotations = map[string]string{gitopsv1alpha1.DeletionPolicyAnnotation: gitopsv1alpha1.DeletionPolicyOrphan}

	cases := []struct {
		name     string
		old, cur *gitopsv1alpha1.Application
		want     bool
	}{
		{"status written by the controller", base, statusOnly, false},
		{"operation moved to Running by the controller", op("1", gitopsv1alpha1.OperationPending), op("1", gitopsv1alpha1.OperationRunning), false},
		{"operation finished", op("1", gitopsv1alpha1.OperationRunning), op("1", gitopsv1alpha1.OperationSucceeded), false},
		{"spec changed", base, specChange, true},
		{"sync requested", base, op("1", gitopsv1alpha1.OperationPending), true},
		{"new sync after a finished one", op("1", gitopsv1alpha1.OperationSucceeded), op("2", gitopsv1alpha1.OperationPending), true},
		{"deletion started", base, deleting, true},
		{"deletion policy changed", base, orphan, true},
	}
	for _, tc := range cases {
		if got := needsReconcile(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: needsReconcile = %v, want %v", tc.name, got, tc.want)
		}
	}
}
