package e2e

import (
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestDependsOnWaitsAndIsAuthorized: an Application that depends on one not yet there waits with
// reason DependencyNotReady naming it, applies nothing, and syncs once it is Synced and Healthy.
// Depending on an Application of another namespace needs the right to get it (403 naming the
// field otherwise), and a visible cycle is refused at write time.
func TestDependsOnWaitsAndIsAuthorized(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("deps")
	repo.Commit("main", map[string]string{
		"db/deployment.yaml": webKustomization["web/deployment.yaml"],
		"web/settings.yaml":  configMapYAML("web-settings", "v1"),
	}, "db and web")
	ns := newNamespace(t, "deps")
	auto := map[string]any{"syncPolicy.automated": map[string]any{"prune": true}}

	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "web", ns, merge(auto, map[string]any{"dependsOn": []any{map[string]any{"name": "db"}}})), "apply", "-f", "-")
	waitApp(t, ns, "web", "waiting for db", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/DependencyNotReady: waiting for "+ns+"/db (not found)")
	})
	if _, ok := configMapValue(t, ns, "web-settings"); ok {
		t.Fatal("web applied its objects before db existed")
	}
	kubectlStdin(t, Admin, gitApp(ns, "db", repo, "db", ns, auto), "apply", "-f", "-")
	waitApp(t, ns, "web", "web Synced after db is Healthy", synced)
	if db := getApp(t, ns, "db"); db.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
		t.Errorf("web synced while db was %s", db.Status.Health.Status)
	}

	// A cycle the writer can see is refused.
	r := kubectlFails(t, Admin, "", "patch", "application", "db", "-n", ns, "--type=merge", "-p", `{"spec":{"dependsOn":[{"name":"web"}]}}`)
	if !strings.Contains(r.Stderr, "spec.dependsOn[0]") || !strings.Contains(r.Stderr, "cycle") {
		t.Errorf("a dependency cycle: want 422 naming spec.dependsOn[0], got %s", r)
	}

	// Another namespace: the writer must be allowed to get the Application there.
	other := newNamespace(t, "deps-other")
	kubectl(t, "create", "rolebinding", "other-edit", "--clusterrole=edit", "--user=other", "-n", other)
	eventually(t, 60*time.Second, "other may create applications", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "-n", other, "--as=other")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})
	cross := appManifest(other, "frontend", map[string]any{"syncPolicy": nil, "source.repoURL": repo.URL(), "source.path": "web",
		"dependsOn": []any{map[string]any{"name": "db", "namespace": ns}}})
	r = kubectlFails(t, "other", cross, "create", "-f", "-")
	if !strings.Contains(r.Stderr, `spec.dependsOn[0]: Forbidden: user "other" may not get application `+ns+`/db`) {
		t.Errorf("depending on an Application the writer may not get: want 403 naming spec.dependsOn[0], got %s", r)
	}
	assertNotFound(t, other, "frontend")
	kubectl(t, "create", "rolebinding", "other-view", "--clusterrole=ferry-view", "--user=other", "-n", ns)
	eventually(t, 60*time.Second, "other may get db", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "get", "applications.gitops.ferry.dev/db", "-n", ns, "--as=other")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})
	// ferry-apiserver caches the authorizer's refusals for a few seconds.
	eventually(t, 60*time.Second, "other may depend on db", func() (bool, string) {
		r := s.Run("other", cross, "create", "-f", "-")
		return r.Err == nil, r.String()
	})
}
