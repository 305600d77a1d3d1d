package e2e

import (
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// argoWaves is a repository written for Argo CD: a PreSync check deleted when it succeeds, a
// migration Job in wave -1, the web app in wave 0 (no annotation), a ConfigMap in wave 1 and a
// PostSync smoke test, with Argo CD's annotations only.
var argoWaves = map[string]string{
	"shop/kustomization.yaml": "resources: [db-check.yaml, migrate.yaml, web.yaml, smoke.yaml, smoke-test.yaml]\n",
	"shop/db-check.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: db-check
  annotations: {argocd.argoproj.io/hook: PreSync, argocd.argoproj.io/hook-delete-policy: HookSucceeded}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: check, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`,
	"shop/smoke-test.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: smoke-test
  annotations: {argocd.argoproj.io/hook: PostSync}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: smoke, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`,
	"shop/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {argocd.argoproj.io/sync-wave: "-1"}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`,
	"shop/web.yaml": webKustomization["web/deployment.yaml"],
	"shop/smoke.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: smoke
  annotations: {argocd.argoproj.io/sync-wave: "1"}
data: {checked: "true"}
`,
}

// TestSyncWavesThroughTheAPI: a repository with Argo CD's sync-wave and hook annotations deploys
// in its waves, with its hooks, through the real API server; kubectl ferry sync --wait prints
// each step as it goes, and kubectl ferry status lists them. (The controller's tests check the order itself against etcd's
// revisions.)
func TestSyncWavesThroughTheAPI(t *testing.T) {
	s := requireStack(t)
	plugin := buildPlugin(t, s)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("waves")
	repo.Commit("main", argoWaves, "shop in waves")
	ns := newNamespace(t, "waves")
	kubectlStdin(t, Admin, gitApp(ns, "shop", repo, "shop", ns, nil), "apply", "-f", "-")

	out := plugin.expect(t, 0, Admin, "sync", "shop", "-n", ns, "--wait", "--timeout", "3m")
	last := -1
	for _, want := range []string{"PreSync hook Job/db-check (1 of 5)", "sync wave -1 (2 of 5)", "sync wave 0 (3 of 5)", "sync wave 1 (4 of 5)", "PostSync hook Job/smoke-test (5 of 5)", "Succeeded"} {
		i := strings.Index(out.Stdout, want)
		if i < 0 || i < last {
			t.Errorf("kubectl ferry sync --wait did not print %q after the step before:\n%s", want, out.Stdout)
		}
		last = i
	}
	status := plugin.expect(t, 0, Admin, "status", "shop", "-n", ns)
	for _, want := range []string{"PreSync hook Job/db-check (wave 0) Succeeded -", "wave -1 Succeeded 1",
		"wave 0 Succeeded 1", "wave 1 Succeeded 1", "PostSync hook Job/smoke-test (wave 0) Succeeded -"} {
		if !strings.Contains(normalizeSpace(status.Stdout), want) {
			t.Errorf("kubectl ferry status does not list %q:\n%s", want, status.Stdout)
		}
	}

	if got := kubectl(t, "get", "job", "migrate", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`); got != "True" {
		t.Errorf("the wave -1 Job has not completed: %q", got)
	}
	if got := kubectl(t, "get", "deployment", "web", "-n", ns, "-o", "jsonpath={.status.availableReplicas}"); got != "3" {
		t.Errorf("the wave 0 Deployment has %q available replicas, want 3", got)
	}
	if r := stack.Run(Admin, "", "get", "job", "db-check", "-n", ns); r.Err == nil {
		t.Errorf("the PreSync hook with delete policy HookSucceeded was kept after it succeeded")
	}
	if got := kubectl(t, "get", "job", "smoke-test", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`); got != "True" {
		t.Errorf("the PostSync smoke test has not completed: %q", got)
	}
	// Hooks are not part of the Application: no difference although the PreSync Job is gone,
	// Synced, and not in its inventory.
	if d := plugin.run(Admin, "diff", "shop", "-n", ns); d.Code != 0 {
		t.Errorf("kubectl ferry diff after the sync: %s", d)
	}
	app := waitApp(t, ns, "shop", "Synced", synced)
	for _, r := range app.Status.Resources {
		if r.Kind == "Job" && r.Name != "migrate" {
			t.Errorf("a hook is in the inventory: %+v", r)
		}
	}
}
