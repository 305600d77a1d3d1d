package application

import (
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestAutomatedPruneDeletesWhatLeftGit: with syncPolicy.automated.prune, an object removed from
// Git is deleted from the cluster at the next commit, and the rest is kept.
func TestAutomatedPruneDeletesWhatLeftGit(t *testing.T) {
	f := newFixture(t)
	first := f.commit(map[string]string{"settings.yaml": configMap("settings", "1"), "legacy.yaml": configMap("legacy", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Spec.SyncPolicy.Automated.Prune = true })
	f.waitFor("web", "synced at the first commit", synced(first))
	f.waitLive("legacy", "1", true)

	second := f.commit(map[string]string{"legacy.yaml": "", "settings.yaml": configMap("settings", "2")})
	app := f.waitFor("web", "synced at the commit that removes legacy", synced(second))
	f.waitLive("legacy", "", false)
	f.waitLive("settings", "2", true)
	for _, r := range app.Status.Resources {
		if r.Name == "legacy" {
			t.Errorf("status.resources still lists the pruned ConfigMap: %+v", r)
		}
	}
}

// TestWithoutPruneAnObjectThatLeftGitStaysAndIsOutOfSync: without prune, Ferry never deletes;
// it applies the rest and reports the object that left Git, so a user can prune it on purpose.
func TestWithoutPruneAnObjectThatLeftGitStaysAndIsOutOfSync(t *testing.T) {
	f := newFixture(t)
	first := f.commit(map[string]string{"settings.yaml": configMap("settings", "1"), "legacy.yaml": configMap("legacy", "1")})
	f.create("web", nil)
	f.waitFor("web", "synced at the first commit", synced(first))

	second := f.commit(map[string]string{"legacy.yaml": "", "settings.yaml": configMap("settings", "2")})
	app := f.waitFor("web", "the new commit applied, the removed object reported", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == second && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	f.waitLive("settings", "2", true)
	if v, ok := f.liveValue("legacy"); !ok || v != "1" {
		t.Errorf("legacy was changed or deleted without prune: exists=%v value %q", ok, v)
	}
	var reported bool
	for _, r := range app.Status.Resources {
		if r.Name == "legacy" && r.Status == gitopsv1alpha1.SyncStatusOutOfSync {
			reported = true
		}
	}
	if !reported {
		t.Errorf("status.resources does not report legacy as OutOfSync: %+v", app.Status.Resources)
	}
	if c := findCondition(app.Status.Conditions, gitopsv1alpha1.ConditionSynced); c == nil || !strings.Contains(c.Message, "ConfigMap/legacy") {
		t.Errorf("the Synced condition does not name the kept object: %+v", c)
	}
}
