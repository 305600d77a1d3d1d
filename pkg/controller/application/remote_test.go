package application

import (
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestARemoteBaseOnABranchIsReadAgainBySync: an Application's kustomization names a platform
// team's base in another repository, on its main branch. It syncs what the base holds; a commit
// to the base alone, the Application's own repository unchanged, reaches the cluster with the
// next sync, whose render is not served from a cache keyed by the Application's commit.
func TestARemoteBaseOnABranchIsReadAgainBySync(t *testing.T) {
	f := newFixture(t)
	platform := f.git.NewRepo("platform")
	platform.Commit("main", map[string]string{
		"base/kustomization.yaml": "resources: [settings.yaml]\n",
		"base/settings.yaml":      configMap("settings", "from-platform-1"),
	}, "platform base")
	sha := f.commit(map[string]string{"kustomization.yaml": "resources:\n- " + platform.URL() + "//base?ref=main\n"})
	f.create("web", nil)
	f.waitFor("web", "synced", synced(sha))
	f.waitLive("settings", "from-platform-1", true)

	platform.Commit("main", map[string]string{"base/settings.yaml": configMap("settings", "from-platform-2")}, "platform change")
	f.requestSync("web", "op-1", gitopsv1alpha1.ApplicationSyncSpec{})
	f.waitLive("settings", "from-platform-2", true)
	if got := f.get("web").Status.Sync.Revision; got != sha {
		t.Errorf("the Application's revision is %s, want its own repository's %s", got, sha)
	}
}
