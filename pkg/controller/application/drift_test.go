package application

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// editByHand changes a deployed ConfigMap as a person with kubectl would.
func (f *fixture) editByHand(name, value string) {
	f.t.Helper()
	patch := []byte(`{"data":{"value":"` + value + `"}}`)
	if _, err := f.kube.CoreV1().ConfigMaps(f.dest).Patch(f.t.Context(), name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		f.t.Fatal(err)
	}
}

// TestSelfHealPutsGitsVersionBack: with selfHeal, a hand edit of a deployed object is reverted
// without waiting for a new commit.
func TestSelfHealPutsGitsVersionBack(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "from-git")})
	f.create("web", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated.SelfHeal = true
		// Only drift can bring Ferry back in time: the next interval is far away.
		a.Spec.SyncPolicy.Interval = &metav1.Duration{Duration: 3600e9}
	})
	f.waitFor("web", "synced", synced(sha))
	f.waitLive("settings", "from-git", true)

	f.editByHand("settings", "by-hand")
	f.waitLive("settings", "from-git", true)
	// The repair leaves a trace, since the drift never shows as OutOfSync.
	app := f.waitFor("web", "the repair recorded", func(a *gitopsv1alpha1.Application) bool { return a.Status.LastSelfHeal != nil })
	if h := app.Status.LastSelfHeal; h.Count != 1 || len(h.Objects) != 1 || h.Objects[0] != "ConfigMap/"+f.dest+"/settings" || h.Revision != sha {
		t.Errorf("status.lastSelfHeal %+v, want ConfigMap/%s/settings put back to %s", h, f.dest, sha)
	}
}

// TestWithoutSelfHealDriftIsReportedNotReverted: without selfHeal, a hand edit stays and the
// Application turns OutOfSync, naming the object.
func TestWithoutSelfHealDriftIsReportedNotReverted(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "from-git"), "other.yaml": configMap("other", "x")})
	f.create("web", nil) // checked every second
	f.waitFor("web", "synced", synced(sha))

	f.editByHand("settings", "by-hand")
	app := f.waitFor("web", "OutOfSync after the hand edit", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	for _, r := range app.Status.Resources {
		want := gitopsv1alpha1.SyncStatusSynced
		if r.Name == "settings" {
			want = gitopsv1alpha1.SyncStatusOutOfSync
		}
		if r.Status != want {
			t.Errorf("%s %s: status %s, want %s", r.Kind, r.Name, r.Status, want)
		}
	}
	// Later checks of Git at the interval leave it too: each lists the repository's refs (at
	// most every 5 s, the listing is shared); three more listings span at least one reconcile.
	listings := f.git.CountRequests("info/refs")
	eventually.Until(t, 60*time.Second, 200*time.Millisecond, "three more checks of Git", func() (bool, string) {
		n := f.git.CountRequests("info/refs") - listings
		return n >= 3, fmt.Sprintf("%d listings", n)
	})
	if v, _ := f.liveValue("settings"); v != "by-hand" {
		t.Errorf("the hand edit was reverted without selfHeal: value %q", v)
	}
	if app := f.get("web"); app.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
		t.Errorf("the drift is no longer reported: %s", describe(app))
	}
}
