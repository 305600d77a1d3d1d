package application

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

// TestFailedStatusWritesAreRetriedUntilEveryApplicationIsReconciled makes the first status
// writes of every Application fail, as when Ferry's API or its etcd is briefly unavailable. No
// Application may be left behind: each is retried with the queue's backoff until its status is
// written, with nobody touching it. (Suspended Applications keep the test to the controller's own
// loop: they need no Git and no cluster.)
func TestFailedStatusWritesAreRetriedUntilEveryApplicationIsReconciled(t *testing.T) {
	const apps, failuresEach = 20, 3
	var objects []runtime.Object
	for i := 0; i < apps; i++ {
		objects = append(objects, &gitopsv1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: fmt.Sprintf("app-%02d", i), Generation: 1},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source:  gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Path: "apps"},
				Suspend: true,
			},
		})
	}
	// The simple tracker: NewClientset's field-managed one refuses every update here ("no type
	// found matching: dev.ferry.gitops.v1alpha1.Application" in its structured-merge schema).
	client := fake.NewSimpleClientset(objects...) //nolint:staticcheck
	var mu sync.Mutex
	failed := map[string]int{}
	client.PrependReactor("update", "applications", func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		name := action.(clienttesting.UpdateAction).GetObject().(*gitopsv1alpha1.Application).Name
		mu.Lock()
		defer mu.Unlock()
		if failed[name] < failuresEach {
			failed[name]++
			return true, nil, apierrors.NewServiceUnavailable("etcd is unavailable")
		}
		return false, nil, nil
	})

	c := New(Config{Ferry: client, Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the controller stopped with %v", err)
		}
	}()

	var pending []string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := client.GitopsV1alpha1().Applications("team-a").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pending = nil
		for _, app := range list.Items {
			if r := findCondition(app.Status.Conditions, gitopsv1alpha1.ConditionReconciling); r == nil || r.Reason != gitopsv1alpha1.ReasonSuspended {
				pending = append(pending, app.Name)
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		t.Fatalf("%d Applications never got their status after failed writes: %v", len(pending), pending)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := 0; i < apps; i++ {
		if name := fmt.Sprintf("app-%02d", i); failed[name] != failuresEach {
			t.Errorf("%s: %d injected failures, want %d (the test did not exercise the retry)", name, failed[name], failuresEach)
		}
	}
}

func findCondition(conditions []metav1.Condition, typ string) *metav1.Condition {
	for i := range conditions {
		if conditions[i].Type == typ {
			return &conditions[i]
		}
	}
	return nil
}

func TestRetryDelayFollowsTheSpecsBackoff(t *testing.T) {
	c := &Controller{memory: map[string]*appMemory{}}
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
