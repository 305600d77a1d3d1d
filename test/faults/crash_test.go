package faults

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// TestLeaderKilledMidSyncLosesNoOperation: two ferry-apiserver replicas share one store; the
// leader is killed (SIGKILL) while 100 requested syncs are Pending or Running. The other replica
// takes the Lease over, and every accepted sync ends in the Application's history exactly once,
// Succeeded, with every Application Synced at the revision: nothing half-applied, nothing lost,
// nothing run twice into the history.
func TestLeaderKilledMidSyncLosesNoOperation(t *testing.T) {
	requireStack(t)
	const n, objects = 100, 20
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("crash")
	files := map[string]string{}
	for i := 0; i < n; i++ {
		for j := 0; j < objects; j++ {
			files[fmt.Sprintf("apps/app-%03d/cm-%02d.yaml", i, j)] = configMap(fmt.Sprintf("app-%03d-cm-%02d", i, j), "v1")
		}
	}
	sha := repo.Commit("main", files, "100 apps of 20 ConfigMaps")
	ns := newNamespace(t, "crash")
	// Manual Applications: only the requested syncs apply anything.
	names := createApps(t, ns, repo.URL(), n, time.Minute, func(a *gitopsv1alpha1.Application) { a.Spec.SyncPolicy.Automated = nil })
	r := startReplica(t, stack.EtcdURL())
	if !strings.Contains(stack.LogTail("ferry-apiserver", 1_000_000), "Became the active controller") ||
		strings.Contains(localstack.TailFile(r.logPath, 10_000), "Became the active controller") {
		t.Fatal("the stack's ferry-apiserver is not the one reconciling: the test would kill the wrong replica")
	}
	// The stack's replica comes back at the end, for the tests after this one.
	t.Cleanup(func() {
		if _, err := stack.Pid("ferry-apiserver"); err != nil {
			if err := stack.RestartFerry(stack.FerryBin, stack.FerryEtcdFlags()...); err != nil {
				t.Errorf("starting the stack's ferry-apiserver again: %v", err)
			}
		}
	})

	accepted := map[string]string{}
	for _, name := range names {
		got, err := ferry.GitopsV1alpha1().Applications(ns).Sync(context.Background(), name, &gitopsv1alpha1.ApplicationSync{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("requesting a sync of %s: %v", name, err)
		}
		accepted[name] = got.Status.OperationID
	}
	finished := func(client interface {
		List(context.Context, metav1.ListOptions) (*gitopsv1alpha1.ApplicationList, error)
	}) (done int, bad []string, err error) {
		list, err := client.List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return 0, nil, err
		}
		for _, a := range list.Items {
			records := 0
			for _, h := range a.Status.History {
				if h.ID == accepted[a.Name] {
					records++
					if h.Phase != gitopsv1alpha1.OperationSucceeded {
						bad = append(bad, fmt.Sprintf("%s: operation %s %s", a.Name, h.ID, h.Phase))
					}
				}
			}
			if records > 1 {
				bad = append(bad, fmt.Sprintf("%s: operation %s recorded %d times", a.Name, accepted[a.Name], records))
			}
			if records == 1 && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Sync.Revision == sha {
				done++
			}
		}
		return done, bad, nil
	}
	// Kill the leader once some syncs are done and others are not.
	eventually.Until(t, 2*time.Minute, 20*time.Millisecond, "a first sync finished", func() (bool, string) {
		done, _, err := finished(ferry.GitopsV1alpha1().Applications(ns))
		return err == nil && done > 0, fmt.Sprintf("%d done (%v)", done, err)
	})
	before, _, _ := finished(ferry.GitopsV1alpha1().Applications(ns))
	if before == n {
		t.Fatal("every sync finished before the leader could be killed: the test would measure nothing")
	}
	if err := stack.Kill("ferry-apiserver"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var last []string
	eventually.Until(t, 3*time.Minute, 500*time.Millisecond, "every accepted sync Succeeded once, through the other replica", func() (bool, string) {
		done, bad, err := finished(r.client.GitopsV1alpha1().Applications(ns))
		last = bad
		return err == nil && done == n && len(bad) == 0, fmt.Sprintf("%d of %d done; %v; %v", done, n, bad, err)
	})
	if len(last) > 0 {
		t.Errorf("operations not recorded once and Succeeded: %v", last)
	}
	t.Logf("leader killed with %d of %d syncs finished; %s later the other replica had finished all %d, each recorded once", before, n, time.Since(killed).Round(time.Millisecond), n)
}
