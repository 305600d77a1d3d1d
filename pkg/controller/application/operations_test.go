package application

import (
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// operationDone is "the operation id has finished with phase".
func operationDone(id string, phase gitopsv1alpha1.OperationPhase) func(*gitopsv1alpha1.Application) bool {
	return func(a *gitopsv1alpha1.Application) bool {
		op := a.Status.Operation
		return op != nil && op.ID == id && op.Phase == phase && op.FinishedAt != nil
	}
}

// TestManualApplicationsSyncOnlyWhenAsked: with no automated policy Ferry compares and reports
// OutOfSync; a dry-run sync changes nothing; a sync applies; a sync with prune deletes what left
// Git; a sync limited to some objects applies only those.
func TestManualApplicationsSyncOnlyWhenAsked(t *testing.T) {
	f := newFixture(t)
	first := f.commit(map[string]string{"settings.yaml": configMap("settings", "1"), "legacy.yaml": configMap("legacy", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Spec.SyncPolicy.Automated = nil })
	f.waitFor("web", "compared: OutOfSync", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == first && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	if _, ok := f.liveValue("settings"); ok {
		t.Fatal("a manual Application applied before any sync was requested")
	}

	f.requestSync("web", "dry", gitopsv1alpha1.ApplicationSyncSpec{DryRun: true})
	app := f.waitFor("web", "the dry run finished", operationDone("dry", gitopsv1alpha1.OperationSucceeded))
	if _, ok := f.liveValue("settings"); ok {
		t.Errorf("a dry-run sync created settings; operation: %+v", app.Status.Operation)
	}

	f.requestSync("web", "one", gitopsv1alpha1.ApplicationSyncSpec{})
	app = f.waitFor("web", "the sync finished", operationDone("one", gitopsv1alpha1.OperationSucceeded))
	if app.Status.Operation.SyncedRevision != first {
		t.Errorf("operation syncedRevision %q, want %s", app.Status.Operation.SyncedRevision, first)
	}
	f.waitFor("web", "Synced", synced(first))
	f.waitLive("settings", "1", true)
	f.waitLive("legacy", "1", true)

	// legacy leaves Git and settings changes; a sync limited to settings applies it and prunes
	// nothing, the next sync with prune deletes legacy.
	second := f.commit(map[string]string{"legacy.yaml": "", "settings.yaml": configMap("settings", "2")})
	f.requestSync("web", "only-settings", gitopsv1alpha1.ApplicationSyncSpec{Revision: second, Prune: true,
		Resources: []gitopsv1alpha1.SyncResource{{Kind: "ConfigMap", Name: "settings"}}})
	f.waitFor("web", "the limited sync finished", operationDone("only-settings", gitopsv1alpha1.OperationSucceeded))
	f.waitLive("settings", "2", true)
	if _, ok := f.liveValue("legacy"); !ok {
		t.Error("a sync limited to settings pruned legacy")
	}

	f.requestSync("web", "prune", gitopsv1alpha1.ApplicationSyncSpec{Prune: true})
	f.waitFor("web", "the pruning sync finished", operationDone("prune", gitopsv1alpha1.OperationSucceeded))
	f.waitLive("legacy", "", false)
	f.waitFor("web", "Synced at the second commit", synced(second))
}
