package application

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
)

// TestADenyWindowHoldsAutomatedSyncsUntilItEnds: an automated Application a deny window in force
// selects is told so (SyncWindow True, naming the window), shows a commit pushed meanwhile as
// OutOfSync without applying it, and applies it as soon as the window no longer holds it (edited
// out of force: SyncWindow False, Open); once no window selects it, the condition goes, and an
// Application no window selects never has it.
func TestADenyWindowHoldsAutomatedSyncsUntilItEnds(t *testing.T) {
	f := newFixture(t)
	first := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Labels = map[string]string{"tier": "prod"} })
	if c := findCondition(f.waitFor("web", "synced before any window", synced(first)).Status.Conditions, gitopsv1alpha1.ConditionSyncWindow); c != nil {
		t.Errorf("an Application no window selects has a SyncWindow condition: %+v", c)
	}

	windows := f.ferry.GitopsV1alpha1().SyncWindows(appNamespace)
	// Every minute for an hour: in force whenever the test runs.
	freeze := &gitopsv1alpha1.SyncWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace, Name: "freeze"},
		Spec: gitopsv1alpha1.SyncWindowSpec{Kind: gitopsv1alpha1.SyncWindowDeny, Schedule: "* * * * *", Duration: metav1.Duration{Duration: time.Hour},
			TimeZone: "UTC", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}},
	}
	if _, err := windows.Create(t.Context(), freeze, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitFor("web", "held by the window", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionSyncWindow)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == gitopsv1alpha1.ReasonDenyWindow &&
			strings.Contains(c.Message, "deny window "+appNamespace+"/freeze is in force") && strings.Contains(c.Message, "spec.overrideSyncWindows")
	})

	second := f.commit(map[string]string{"settings.yaml": configMap("settings", "2")})
	f.waitFor("web", "the new commit compared, not applied", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == second && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync && a.Status.Sync.Revision == first
	})
	if v, _ := f.liveValue("settings"); v != "1" {
		t.Fatalf("settings is %q in the cluster during the freeze, want 1", v)
	}

	// Edited out of force (1 January only, for a minute): the commit goes out at once.
	for {
		w, err := windows.Get(t.Context(), "freeze", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w.Spec.Schedule, w.Spec.Duration = "0 0 1 1 *", metav1.Duration{Duration: time.Minute}
		if active, _, _ := syncwindow.InForce(time.Now(), w.Spec.Schedule, "UTC", time.Minute); active {
			t.Skip("the test runs in the one minute of the year the edited window is in force")
		}
		if _, err = windows.Update(t.Context(), w, metav1.UpdateOptions{}); err == nil {
			break
		}
	}
	f.waitFor("web", "applied once the window no longer holds it", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionSyncWindow)
		return synced(second)(a) && c != nil && c.Status == metav1.ConditionFalse && c.Reason == gitopsv1alpha1.ReasonWindowOpen
	})
	f.waitLive("settings", "2", true)

	if err := windows.Delete(t.Context(), "freeze", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitFor("web", "no window, no condition", func(a *gitopsv1alpha1.Application) bool {
		return findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionSyncWindow) == nil
	})
}

// TestLookWhenOpen: an Application held by a window is looked at again when the window lets it
// sync (a second after), not an interval later; an open window, or one with no end in sight,
// leaves the next look where it was.
func TestLookWhenOpen(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 30, 0, 0, time.UTC)
	blockedUntil := func(until time.Time) syncwindow.Verdict {
		return syncwindow.Verdict{Selected: true, Blocked: true, Window: "team/freeze", Until: until}
	}
	for _, tc := range []struct {
		name   string
		window syncwindow.Verdict
		after  time.Duration
		want   time.Duration
	}{
		{"open: the interval", syncwindow.Verdict{Selected: true}, 3 * time.Minute, 3 * time.Minute},
		{"ends before the interval: when it ends", blockedUntil(now.Add(time.Minute)), 3 * time.Minute, time.Minute + time.Second},
		{"ends after the interval: the interval", blockedUntil(now.Add(time.Hour)), 3 * time.Minute, 3 * time.Minute},
		{"no end in sight: the interval", blockedUntil(time.Time{}), 3 * time.Minute, 3 * time.Minute},
		{"ended already: at once, after the margin", blockedUntil(now.Add(-time.Minute)), 3 * time.Minute, time.Second},
	} {
		if got := lookWhenOpen(tc.window, tc.after, now); got != tc.want {
			t.Errorf("%s: lookWhenOpen = %v, want %v", tc.name, got, tc.want)
		}
	}
}
