package e2e

import (
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// argoWaves is a repository written for Argo CD: a migration Job in wave -1, the web app in wave
// 0 (no annotation), a smoke-test ConfigMap in wave 1, with Argo CD's annotations only.
var argoWaves = map[string]string{
	"shop/kustomization.yaml": "resources: [migrate.yaml, web.yaml, smoke.yaml]\n",
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

// TestSyncWavesThroughTheAPI: a repository with Argo CD's sync-wave annotations deploys in its
// waves through the real API server; kubectl ferry sync --wait prints each wave as it goes, and
// kubectl ferry status lists them. (The controller's tests check the order itself against etcd's
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
	for _, want := range []string{"sync wave -1 (1 of 3)", "sync wave 0 (2 of 3)", "sync wave 1 (3 of 3)", "Succeeded"} {
		i := strings.Index(out.Stdout, want)
		if i < 0 || i < last {
			t.Errorf("kubectl ferry sync --wait did not print %q after the wave before:\n%s", want, out.Stdout)
		}
		last = i
	}
	status := plugin.expect(t, 0, Admin, "status", "shop", "-n", ns)
	for _, want := range []string{"wave -1   Succeeded   1", "wave 0    Succeeded   1", "wave 1    Succeeded   1"} {
		if !strings.Contains(status.Stdout, want) {
			t.Errorf("kubectl ferry status does not list %q:\n%s", want, status.Stdout)
		}
	}

	if got := kubectl(t, "get", "job", "migrate", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`); got != "True" {
		t.Errorf("the wave -1 Job has not completed: %q", got)
	}
	if got := kubectl(t, "get", "deployment", "web", "-n", ns, "-o", "jsonpath={.status.availableReplicas}"); got != "3" {
		t.Errorf("the wave 0 Deployment has %q available replicas, want 3", got)
	}
	waitApp(t, ns, "shop", "Synced", synced)
}
