package faults

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// TestKubeAPIServerRestartDriftStillHealed: kube-apiserver — the cluster Applications deploy
// into, and the front of Ferry's API — is killed for 5 s and started again. Ferry's watches of
// managed objects recover by themselves: a hand edit made after it is back is undone by
// selfHeal, as before the outage. (An Application synced at its revision is not applied again
// at its interval; only a watch event brings the edit to Ferry, so a dead watch fails this
// test.)
func TestKubeAPIServerRestartDriftStillHealed(t *testing.T) {
	requireStack(t)
	const n = 20
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("restart")
	sha := repo.Commit("main", appFiles(n, "v1"), "v1")
	ns := newNamespace(t, "restart")
	createApps(t, ns, repo.URL(), n, time.Minute)
	waitAllSynced(t, ns, sha, n, 3*time.Minute)

	// Before the outage: a hand edit is healed (the baseline).
	before := healTime(t, ns, "app-000-settings")
	ferryPid, _ := stack.Pid("ferry-apiserver")
	outage(t, "kube-apiserver", 5*time.Second)
	back := time.Now()
	// Ferry's API is served through kube-apiserver: wait for it to answer again.
	eventually.Until(t, time.Minute, 200*time.Millisecond, "Ferry's API through kube-apiserver", func() (bool, string) {
		_, err := ferry.GitopsV1alpha1().Applications(ns).List(context.Background(), metav1.ListOptions{})
		return err == nil, fmt.Sprint(err)
	})
	apiBack := time.Since(back)
	after := make([]time.Duration, 0, 3)
	for _, name := range []string{"app-001-settings", "app-010-settings", "app-019-settings"} {
		after = append(after, healTime(t, ns, name))
	}
	t.Logf("hand edit healed in %s before the outage; kube-apiserver back, Ferry's API answered after %s; edits then healed in %v (the first %s after kube-apiserver was back)",
		before.Round(time.Millisecond), apiBack.Round(time.Millisecond), roundAll(after), time.Since(back).Round(time.Millisecond))
	if now, err := stack.Pid("ferry-apiserver"); err != nil || now != ferryPid {
		t.Errorf("ferry-apiserver was pid %d, now %d (%v): it restarted", ferryPid, now, err)
	}
}

// healTime edits a managed ConfigMap by hand and says how long Ferry took to put Git's value
// back (polled every 50 ms, for at most a minute).
func healTime(t *testing.T, ns, name string) time.Duration {
	t.Helper()
	ctx := context.Background()
	edited := time.Now()
	patch := []byte(`{"data":{"value":"by hand"}}`)
	eventually.Until(t, 30*time.Second, 100*time.Millisecond, "the hand edit of "+name, func() (bool, string) {
		_, err := kube.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err == nil, fmt.Sprint(err)
	})
	eventually.Until(t, time.Minute, 50*time.Millisecond, "selfHeal to undo the hand edit of "+name, func() (bool, string) {
		cm, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cm.Data["value"] == "v1", "value " + cm.Data["value"]
	})
	return time.Since(edited)
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
