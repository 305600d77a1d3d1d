package e2e

import (
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// webKustomization is a kustomize app as teams write them: a Deployment with probes and
// resources, its Service, a config map generator feeding it, and a Job (a database migration).
var webKustomization = map[string]string{
	"web/kustomization.yaml": `resources: [deployment.yaml, service.yaml, migrate.yaml]
configMapGenerator:
- name: web-config
  literals: [LOG_LEVEL=info, WORKERS=4]
labels:
- pairs: {app.kubernetes.io/part-of: shop}
`,
	"web/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{name: http, containerPort: 8080}]
        envFrom: [{configMapRef: {name: web-config}}]
        resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 5}
`,
	"web/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
`,
	"web/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [pause]
`,
}

// TestWorkloadsRunOnTheStacksNode deploys a Deployment and a Job through Ferry: on the stack's
// Node (kwok) the Deployment becomes Available, the Job completes and the Application is Healthy;
// a Job whose Pod fails makes its Application Degraded, naming the Job.
func TestWorkloadsRunOnTheStacksNode(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("node")
	failing := map[string]string{}
	for k, v := range webKustomization {
		failing["failing/"+strings.TrimPrefix(k, "web/")] = v
	}
	// The same app (deployed to another namespace), whose migration's Pod asks kwok to fail it.
	failing["failing/migrate.yaml"] = strings.Replace(webKustomization["web/migrate.yaml"], "  template:\n    spec:\n",
		"  template:\n    metadata: {labels: {"+localstack.FailLabel+": \"true\"}}\n    spec:\n", 1)
	files := map[string]string{}
	for k, v := range webKustomization {
		files[k] = v
	}
	for k, v := range failing {
		files[k] = v
	}
	repo.Commit("main", files, "web and a failing migration")
	ns := newNamespace(t, "node")
	auto := map[string]any{"syncPolicy.automated": map[string]any{"prune": true, "selfHeal": true}}
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "web", ns, auto), "apply", "-f", "-")
	other := newNamespace(t, "node-failing")
	kubectlStdin(t, Admin, gitApp(other, "failing", repo, "failing", other, auto), "apply", "-f", "-")

	waitApp(t, ns, "web", "web Synced and Healthy", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
	})
	if got := kubectl(t, "get", "deployment", "web", "-n", ns, "-o", "jsonpath={.status.availableReplicas}"); got != "3" {
		t.Errorf("available replicas of the Deployment: %q, want 3", got)
	}
	if got := kubectl(t, "get", "job", "migrate", "-n", ns, "-o", `jsonpath={.status.conditions[?(@.type=="Complete")].status}`); got != "True" {
		t.Errorf("the migration Job's Complete condition: %q, want True", got)
	}
	if got := kubectl(t, "get", "endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=web", "-o", "jsonpath={.items[*].endpoints[*].conditions.ready}"); got != "true true true" {
		t.Errorf("ready endpoints of Service web: %q, want three", got)
	}

	app := waitApp(t, other, "failing", "the Application with the failing Job Degraded", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Health.Status == gitopsv1alpha1.HealthDegraded
	})
	if !strings.Contains(app.Status.Health.Message, "Job/migrate") {
		t.Errorf("the health message does not name the failed Job: %q", app.Status.Health.Message)
	}
}
