package e2e

import (
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestPreview: a branch that changes a ConfigMap of a kustomize Application is previewed with
// kubectl ferry preview, which exits 1 and prints the changed field, compared as the editor who
// asked; so is a pull request's refs/pull/N/head; nothing is written (the Application's resourceVersion is the same, and ferry-apiserver's
// storage metrics show no etcd request for applicationpreviews while they show those of
// applications); a user who may create applicationpreviews but not get the Application is
// refused with 403 naming it, before any Git request.
func TestPreview(t *testing.T) {
	s := requireStack(t)
	p := buildPlugin(t, s)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("preview")
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [cm.yaml]\n"
	repo.Commit("main", map[string]string{"app/kustomization.yaml": kustomization, "app/cm.yaml": configMapYAML("preview-settings", "blue")}, "blue")
	ns := newNamespace(t, "preview")
	// Automated, and never looked at again by interval: nothing but a preview could write it.
	auto := map[string]any{"syncPolicy.automated": map[string]any{"prune": true}, "syncPolicy.interval": "24h"}
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, auto), "apply", "-f", "-")
	app := waitApp(t, ns, "web", "Synced and Healthy at main", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
	})
	before := app.ResourceVersion
	branch := repo.Commit("pr-7", map[string]string{"app/cm.yaml": configMapYAML("preview-settings", "green")}, "green")

	// The editor compares as themself: the edit role (which aggregates ferry-edit) lets them
	// dry-run ConfigMaps of the namespace.
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=edit", "--user=editor", "-n", ns)
	var r pluginResult
	eventually(t, 30*time.Second, "the editor's preview", func() (bool, string) {
		r = p.run("editor", "preview", "web", "--revision", "pr-7", "-n", ns)
		return r.Code == 1, r.String()
	})
	t.Logf("%s", r.Stdout)
	wantLines(t, r, "~ Update v1 ConfigMap "+ns+"/preview-settings", `- value: blue`, `+ value: green`,
		"0 to create, 1 to update, 0 to delete, 0 unchanged (revision "+branch[:12]+")")
	if v, _ := configMapValue(t, ns, "preview-settings"); v != "blue" {
		t.Errorf("after a preview the ConfigMap holds %q, want blue", v)
	}
	r = p.expect(t, 1, "editor", "preview", "web", "--revision", "pr-7", "-n", ns, "-o", "yaml")
	for _, want := range []string{"kind: ApplicationPreview", "comparedAs: editor", "revision: " + branch, "value: green"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("preview -o yaml lacks %q:\n%s", want, r.Stdout)
		}
	}
	p.expect(t, 0, "editor", "preview", "web", "--revision", "main", "-n", ns)
	// A pull request's head, which no branch of the repository reaches, as a forge publishes it.
	pr := repo.PullRequest(8, "main", map[string]string{"app/cm.yaml": configMapYAML("preview-settings", "red")})
	r = p.expect(t, 1, "editor", "preview", "web", "--revision", "refs/pull/8/head", "-n", ns)
	wantLines(t, r, `- value: blue`, `+ value: red`, "(revision "+pr[:12]+")")

	if after := getApp(t, ns, "web").ResourceVersion; after != before {
		t.Errorf("the Application's resourceVersion went from %s to %s during the previews: something wrote it", before, after)
	}
	// ferry-apiserver stores in its embedded etcd, which only it can reach; its storage metrics
	// name every resource it reads or writes there.
	var previewRequests, applicationStorage int
	for _, line := range strings.Split(scrapeFerryMetrics(t), "\n") {
		storage := strings.HasPrefix(line, "etcd_") || strings.HasPrefix(line, "apiserver_storage_")
		switch {
		case storage && strings.Contains(line, "applicationpreviews"):
			t.Errorf("ferry-apiserver's storage saw applicationpreviews: %s", line)
		case storage && strings.Contains(line, `applications"`):
			applicationStorage++
		case strings.HasPrefix(line, "apiserver_request_total") && strings.Contains(line, `resource="applicationpreviews"`):
			previewRequests++
		}
	}
	if previewRequests == 0 || applicationStorage == 0 {
		t.Errorf("the metrics show %d request series of applicationpreviews and %d storage series of applications: the storage check proves nothing", previewRequests, applicationStorage)
	}

	t.Run("refused without get on the Application", func(t *testing.T) {
		kubectl(t, "create", "role", "previewer", "--verb=create", "--resource=applicationpreviews.gitops.ferry.dev", "-n", ns)
		kubectl(t, "create", "rolebinding", "previewer", "--role=previewer", "--user=other", "-n", ns)
		gitRequests := len(srv.Requests())
		var r pluginResult
		eventually(t, 30*time.Second, "other's preview refused by Ferry", func() (bool, string) {
			r = p.run("other", "preview", "web", "--revision", "pr-7", "-n", ns)
			return r.Code == 2 && strings.Contains(r.Stderr, "may not get it"), r.String()
		})
		for _, want := range []string{"error: Forbidden: ", "Application " + ns + "/web", `user "other"`} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("stderr lacks %q: %s", want, r)
			}
		}
		if got := srv.Requests()[gitRequests:]; len(got) != 0 {
			t.Errorf("a refused preview reached Git: %v", got)
		}
	})
}
