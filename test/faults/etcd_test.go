package faults

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// outage takes a component away (SIGKILL) for d and starts it again with the same data, as a
// crashed etcd that its supervisor restarts. It is back even if the test fails meanwhile.
func outage(t *testing.T, component string, d time.Duration) {
	t.Helper()
	if err := stack.Kill(component); err != nil {
		t.Fatal(err)
	}
	back := false
	start := func() {
		if !back {
			back = true
			if err := stack.StartAgain(context.Background(), component); err != nil {
				t.Errorf("starting %s again: %v", component, err)
			}
		}
	}
	t.Cleanup(start)
	<-time.After(d) // the outage's length, not a wait for anything
	start()
}

// countInLog counts the lines of a component's log that contain s.
func countInLog(component, s string) int {
	return strings.Count(stack.LogTail(component, 1_000_000), s)
}

// TestEtcdOutageWhileApplicationsReconcile: etcd is gone for 5 s while 100 Applications
// reconcile a new commit: their status writes cannot complete, nor can the applies, since
// kube-apiserver uses that etcd too. Once it is back, every Application reconciles by itself,
// with no edit, to the new commit; nothing crashed.
func TestEtcdOutageWhileApplicationsReconcile(t *testing.T) {
	requireStack(t)
	const n = 100
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("etcd-fault")
	first := repo.Commit("main", appFiles(n, "v1"), "v1")
	ns := newNamespace(t, "etcd")
	createApps(t, ns, repo.URL(), n, 10*time.Second)
	took := waitAllSynced(t, ns, first, n, 3*time.Minute)
	t.Logf("%d Applications Synced in %s", n, took.Round(time.Millisecond))

	ferryPid, _ := stack.Pid("ferry-apiserver")
	kubePid, _ := stack.Pid("kube-apiserver")
	retriedBefore := countInLog("ferry-apiserver", "Reconciling Application failed; retrying")
	second := repo.Commit("main", appFiles(n, "v2"), "v2")
	// Let the reconciles of the new commit start, then take etcd away in the middle of them.
	waitSomeSynced(t, ns, second, 1)
	if done := countSynced(t, ns, second); done == n {
		t.Fatal("every Application reconciled before the outage: the test would measure nothing")
	}
	outage(t, "etcd", 5*time.Second)
	back := time.Now()
	waitAllSynced(t, ns, second, n, 3*time.Minute)
	waitLiveValues(t, ns, n, "v2", time.Minute)
	retried := countInLog("ferry-apiserver", "Reconciling Application failed; retrying") - retriedBefore
	// Requests in flight wait for etcd to come back (its client reconnects) rather than fail,
	// unless the outage outlasts them; either way nothing may be left behind.
	t.Logf("etcd down 5 s: %d reconciles failed and were retried; %s after etcd was back, all %d Applications were Synced at the new commit",
		retried, time.Since(back).Round(time.Millisecond), n)
	for component, before := range map[string]int{"ferry-apiserver": ferryPid, "kube-apiserver": kubePid} {
		if now, err := stack.Pid(component); err != nil || now != before {
			t.Errorf("%s was pid %d, now %d (%v): it restarted", component, before, now, err)
		}
	}
}
