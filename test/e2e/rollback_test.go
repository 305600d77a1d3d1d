package e2e

import (
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// failingJobYAML is a Job whose Pod kwok fails: the Application that deploys it turns Degraded.
func failingJobYAML(name string) string {
	return `apiVersion: batch/v1
kind: Job
metadata:
  name: ` + name + `
spec:
  backoffLimit: 0
  template:
    metadata: {labels: {` + localstack.FailLabel + `: "true"}}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`
}

// TestPluginRollback: an automated Application synced to a bad commit (a Pod that fails) is rolled
// back with kubectl ferry rollback; it stays at the good revision while the bad commit is still
// what Git names, even through a reconcile of a changed spec; it follows Git again once a fix is
// pushed. A user without "create applications/rollback" is refused with 403.
func TestPluginRollback(t *testing.T) {
	s := requireStack(t)
	p := buildPlugin(t, s)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("rollback")
	good := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("rollback-settings", "good")}, "good")
	ns := newNamespace(t, "rollback")
	auto := map[string]any{"syncPolicy.automated": map[string]any{"prune": true, "selfHeal": true}, "syncPolicy.interval": "10s"}
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, auto), "apply", "-f", "-")
	waitApp(t, ns, "web", "Synced at the good commit", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == good
	})

	bad := repo.Commit("main", map[string]string{
		"app/cm.yaml":      configMapYAML("rollback-settings", "bad"),
		"app/migrate.yaml": failingJobYAML("rollback-migrate"),
	}, "bad")
	waitApp(t, ns, "web", "Degraded at the bad commit", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == bad && a.Status.Health.Status == gitopsv1alpha1.HealthDegraded
	})

	t.Run("viewer may not roll back", func(t *testing.T) {
		kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=ferry-view", "--user=viewer", "-n", ns)
		eventually(t, 30*time.Second, "viewer may list Applications", func() (bool, string) {
			r := p.run("viewer", "list", "-n", ns)
			return r.Code == 0, r.String()
		})
		r := p.expect(t, 2, "viewer", "rollback", "web", "-n", ns)
		for _, want := range []string{"error: Forbidden: ", `"viewer"`, "applications/rollback"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("stderr lacks %q: %s", want, r)
			}
		}
		if app := getApp(t, ns, "web"); app.Status.Rollback != nil {
			t.Errorf("a refused rollback left status.rollback %+v", app.Status.Rollback)
		}
	})

	r := p.expect(t, 0, Admin, "rollback", "web", "-n", ns, "--prune", "--wait", "--timeout", "2m")
	t.Logf("%s", r.Stdout)
	wantLines(t, r, "rollback of "+ns+"/web to "+good[:12]+" requested", "Succeeded")
	app := waitApp(t, ns, "web", "held at the good commit", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == good && a.Status.Rollback != nil &&
			strings.HasPrefix(condition(a, gitopsv1alpha1.ConditionRolledBack), "True/RolledBack")
	})
	if rb := app.Status.Rollback; rb.From != bad || rb.Revision != good || rb.RequestedBy != Admin {
		t.Errorf("status.rollback %+v, want from %s to %s by %s", rb, bad, good, Admin)
	}
	if v, _ := configMapValue(t, ns, "rollback-settings"); v != "good" {
		t.Errorf("after the rollback the ConfigMap holds %q, want good", v)
	}
	if out := stack.Run(Admin, "", "get", "job", "rollback-migrate", "-n", ns, "-o", "name"); out.Err == nil {
		t.Errorf("the bad commit's Job is still there after a rollback with --prune: %s", out.Stdout)
	}

	// A changed spec makes the controller resolve Git again at once: the bad commit is still what
	// the branch names, so the Application stays where it was rolled back to.
	kubectl(t, "patch", "application", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"syncPolicy":{"interval":"11s"}}}`)
	app = waitApp(t, ns, "web", "the changed spec reconciled", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.ObservedGeneration == a.Generation && a.Status.ReconciledAt != nil
	})
	if app.Status.Sync.Revision != good || app.Status.Rollback == nil {
		t.Errorf("after a reconcile with the bad commit still in Git: %s, rollback %+v; want held at %s", describeApp(app), app.Status.Rollback, good)
	}
	if v, _ := configMapValue(t, ns, "rollback-settings"); v != "good" {
		t.Errorf("while held the ConfigMap holds %q, want good", v)
	}
	r = p.expect(t, 0, Admin, "status", "web", "-n", ns)
	wantLines(t, r, "RolledBack True RolledBack ")

	fix := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("rollback-settings", "fixed"), "app/migrate.yaml": ""}, "fix")
	app = waitApp(t, ns, "web", "following Git again at the fix", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == fix && a.Status.Rollback == nil
	})
	if got := condition(app, gitopsv1alpha1.ConditionRolledBack); !strings.HasPrefix(got, "False/GitMoved") {
		t.Errorf("RolledBack condition after the fix: %s, want False/GitMoved", got)
	}
	if v, _ := configMapValue(t, ns, "rollback-settings"); v != "fixed" {
		t.Errorf("after the fix the ConfigMap holds %q, want fixed", v)
	}
}
