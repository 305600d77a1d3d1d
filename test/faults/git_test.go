package faults

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestFlakyGitServerLosesNothing: for the whole run, 30% of the Git server's answers fail or
// stall (up to 3 s). Every Application still ends Synced, at the first commit and at the next;
// while a fetch fails, its Application says so; and nothing is pruned because of a failed fetch.
func TestFlakyGitServerLosesNothing(t *testing.T) {
	requireStack(t)
	const n = 30
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("flaky")
	first := repo.Commit("main", appFiles(n, "v1"), "v1")
	faults := srv.SetFlaky(30, 3*time.Second, 12)
	ns := newNamespace(t, "flaky")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var gitFailures []string
	deletions := 0
	// Every status write, to see the failures reported while they happen.
	appWatch, err := ferry.GitopsV1alpha1().Applications(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer appWatch.Stop()
	// Every deletion of a managed object.
	cmWatch, err := kube.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer cmWatch.Stop()
	go func() {
		for ev := range appWatch.ResultChan() {
			if a, ok := ev.Object.(*gitopsv1alpha1.Application); ok {
				if msg := readyMessage(a); strings.Contains(msg, gitopsv1alpha1.ReasonGitFailed) {
					mu.Lock()
					gitFailures = append(gitFailures, a.Name+": "+msg)
					mu.Unlock()
				}
			}
		}
	}()
	go func() {
		for ev := range cmWatch.ResultChan() {
			if ev.Type == watch.Deleted {
				mu.Lock()
				deletions++
				mu.Unlock()
			}
		}
	}()

	createApps(t, ns, repo.URL(), n, 10*time.Second)
	took := waitAllSynced(t, ns, first, n, 5*time.Minute)
	second := repo.Commit("main", appFiles(n, "v2"), "v2")
	tookNext := waitAllSynced(t, ns, second, n, 5*time.Minute)
	waitLiveValues(t, ns, n, "v2", time.Minute)
	failed, stalled := faults()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d Applications Synced in %s, then at the next commit in %s; the server failed %d requests and stalled %d; %d GitOperationFailed conditions reported on the way",
		n, took.Round(time.Millisecond), tookNext.Round(time.Millisecond), failed, stalled, len(gitFailures))
	if failed == 0 {
		t.Fatal("the Git server failed no request: the test measured nothing")
	}
	if len(gitFailures) == 0 {
		t.Error("no Application ever reported the Git failures")
	} else if strings.Contains(gitFailures[0], "failed at random for this test") {
		t.Errorf("the Git server's own words reached a condition: %s", gitFailures[0])
	}
	if deletions != 0 {
		t.Errorf("%d ConfigMaps were deleted while Git was flaky; nothing left Git", deletions)
	}
}
