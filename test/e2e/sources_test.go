package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/charts/charttest"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestAChartWithItsValuesInAnotherRepository: spec.sources renders a chart of a Helm repository
// with a value file of a Git repository ($values/envs/prod.yaml) and plain manifests of that
// same repository, applied as one set: the chart's objects equal `helm template` with both value
// files, status holds the revision of each source, a commit to the values repository rolls out
// by itself, and a source removed from the list has its objects pruned.
func TestAChartWithItsValuesInAnotherRepository(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "sources")
	kubeVersion := clusterVersion(t, s)

	charts := charttest.NewRepo(t, "", "")
	charts.Publish(t, charttest.WithVersion(webChart, "0.3.0"))
	config := gittest.NewServer(t).NewRepo("config")
	prodValues := "replicas: 4\nconfig: {greeting: bonjour}\n"
	first := config.Commit("main", map[string]string{
		"envs/prod.yaml":    prodValues,
		"envs/staging.yaml": "replicas: 1\n",
		"extra/limits.yaml": "apiVersion: v1\nkind: LimitRange\nmetadata: {name: defaults}\nspec:\n  limits:\n  - type: Container\n    default: {cpu: 500m, memory: 256Mi}\n",
	}, "prod values and the namespace's limits")

	chartSource := map[string]any{
		"repoURL": charts.URL, "chart": "web", "revision": "~0.3",
		"helm": map[string]any{"valueFiles": []any{"values-prod.yaml", "$values/envs/prod.yaml"}},
	}
	configSource := map[string]any{"repoURL": config.URL(), "revision": "main", "ref": "values", "path": "extra"}
	manifest := appManifest(ns, "web", map[string]any{
		"source": nil, "sources": []any{chartSource, configSource},
		"destination.namespace": ns, "syncPolicy.interval": "10s",
	})
	kubectlStdin(t, Admin, manifest, "apply", "-f", "-")
	app := waitApp(t, ns, "web", "Synced at both sources' revisions", func(app *gitopsv1alpha1.Application) bool {
		return synced(app) && strings.Join(app.Status.Sync.Revisions, ",") == "0.3.0,"+first
	})
	if got := strings.Join(app.Status.SourceRevisions, ","); got != "0.3.0,"+first {
		t.Errorf("status.sourceRevisions = %s, want the chart's version and the config commit", got)
	}

	files := charttest.WithVersion(webChart, "0.3.0")
	files["envs/prod.yaml"] = prodValues
	assertLiveAsRendered(t, s, ns, helmTemplate(t, files, "web", ns, kubeVersion, []string{"values-prod.yaml", "envs/prod.yaml"}, nil))
	if r := s.Run(Admin, "", "get", "limitrange", "defaults", "-n", ns); r.Err != nil {
		t.Errorf("the plain manifests of the second source are not applied: %s", r.Stderr)
	}
	var kinds []string
	for _, res := range app.Status.Resources {
		kinds = append(kinds, res.Kind)
	}
	if len(app.Status.Resources) != 4 {
		t.Errorf("one inventory of both sources: want 4 objects (Deployment, Service, ConfigMap, LimitRange), got %v", kinds)
	}
	wide := kubectl(t, "get", "application", "web", "-n", ns, "-o", "wide")
	if !strings.Contains(wide, charts.URL+" (+1)") {
		t.Errorf("kubectl get -o wide does not show the first source and the count of the others:\n%s", wide)
	}

	// A commit to the values repository alone rolls out.
	second := config.Commit("main", map[string]string{"envs/prod.yaml": "replicas: 2\nconfig: {greeting: bonjour}\n"}, "fewer replicas")
	waitApp(t, ns, "web", "Synced at the new config commit", func(app *gitopsv1alpha1.Application) bool {
		return synced(app) && strings.Join(app.Status.Sync.Revisions, ",") == "0.3.0,"+second
	})
	eventually(t, syncTimeout, "replicas 2 live", func() (bool, string) {
		r := s.Run(Admin, "", "get", "deployment", "web-web", "-n", ns, "-o", "jsonpath={.spec.replicas}")
		return r.Stdout == "2", r.Stdout + r.Stderr
	})

	// A value file the other repository does not hold is a condition naming it; nothing pruned.
	chartSource["helm"] = map[string]any{"valueFiles": []any{"$values/envs/typo.yaml"}}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"sources": []any{chartSource, configSource}}})
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, "patch", "application", "web", "-n", ns, "--type=merge", "-p", string(patch))
	waitApp(t, ns, "web", "Ready=False naming the missing value file", func(app *gitopsv1alpha1.Application) bool {
		c := condition(app, "Ready")
		return strings.HasPrefix(c, "False/"+gitopsv1alpha1.ReasonRenderFailed) && strings.Contains(c, "spec.sources[0].helm.valueFiles[0]") && strings.Contains(c, "envs/typo.yaml")
	})
	if r := s.Run(Admin, "", "get", "deployment", "web-web", "-n", ns); r.Err != nil {
		t.Errorf("a render failure pruned the chart's Deployment: %s", r.Stderr)
	}

	// Back to one source: what only the other one rendered is pruned.
	chartSource["helm"] = map[string]any{"valueFiles": []any{"values-prod.yaml"}}
	patch, err = json.Marshal(map[string]any{"spec": map[string]any{"sources": []any{chartSource}}})
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, "patch", "application", "web", "-n", ns, "--type=merge", "-p", string(patch))
	waitApp(t, ns, "web", "Synced at the chart alone", func(app *gitopsv1alpha1.Application) bool {
		return synced(app) && strings.Join(app.Status.Sync.Revisions, ",") == "0.3.0"
	})
	eventually(t, syncTimeout, "the LimitRange pruned, replicas 3 from values-prod.yaml", func() (bool, string) {
		gone := s.Run(Admin, "", "get", "limitrange", "defaults", "-n", ns).Err != nil
		r := s.Run(Admin, "", "get", "deployment", "web-web", "-n", ns, "-o", "jsonpath={.spec.replicas}")
		return gone && r.Stdout == "3", fmt.Sprintf("LimitRange gone: %v, replicas %q", gone, r.Stdout)
	})
}
