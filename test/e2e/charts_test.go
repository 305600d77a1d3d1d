package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/discovery"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts/charttest"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// clusterVersion is the local kube-apiserver's version, which charts see as
// .Capabilities.KubeVersion.
func clusterVersion(t *testing.T, s *Stack) string {
	t.Helper()
	disco, err := discovery.NewDiscoveryClientForConfig(s.restConfig(Admin))
	if err != nil {
		t.Fatal(err)
	}
	v, err := disco.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	return v.GitVersion
}

// chartApp is an Application of the chart name in the repository repoURL, at revision.
func chartApp(ns, name, repoURL, chart, revision string, edits map[string]any) string {
	all := map[string]any{
		"source.repoURL": repoURL, "source.chart": chart, "source.revision": revision, "source.path": nil,
		"destination.namespace": ns, "syncPolicy.interval": "10s",
	}
	for k, v := range edits {
		all[k] = v
	}
	return appManifest(ns, name, all)
}

func syncedAt(version string) func(*gitopsv1alpha1.Application) bool {
	return func(app *gitopsv1alpha1.Application) bool {
		return synced(app) && app.Status.Sync.Revision == version
	}
}

// TestChartsFromAHelmRepositoryAndAnOCIRegistry: a chart of a Helm repository served on
// 127.0.0.1 deploys, at the newest version its range allows, exactly the objects `helm template`
// renders for the same chart and values; a new version in the range rolls out by itself; a chart
// of a private OCI registry (basic auth, its CA in the Secret) deploys the same way, and without
// the Secret the Application says why it cannot; a chart in Git whose Chart.lock pins a
// dependency of the Helm repository deploys the dependency too.
func TestChartsFromAHelmRepositoryAndAnOCIRegistry(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "charts")
	kubeVersion := clusterVersion(t, s)
	values := map[string]any{
		"valueFiles": []any{"values-prod.yaml"},
		"parameters": []any{map[string]any{"name": "image.tag", "value": "1.5"}},
	}

	// A Helm repository: ~0.3 resolves to 0.3.1, not 1.0.0.
	repo := charttest.NewRepo(t, "", "")
	for _, v := range []string{"0.3.0", "0.3.1", "1.0.0"} {
		repo.Publish(t, charttest.WithVersion(webChart, v))
	}
	kubectlStdin(t, Admin, chartApp(ns, "web", repo.URL, "web", "~0.3", map[string]any{"source.helm": values}), "apply", "-f", "-")
	waitApp(t, ns, "web", "Synced at chart version 0.3.1", syncedAt("0.3.1"))
	assertLiveAsRendered(t, s, ns, helmTemplate(t, charttest.WithVersion(webChart, "0.3.1"), "web", ns, kubeVersion, []string{"values-prod.yaml"}, []string{"image.tag=1.5"}))
	manifests := kubectl(t, "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/manifests")
	if !strings.Contains(manifests, `"name":"web-web"`) || !strings.Contains(manifests, "web-0.3.1") {
		t.Errorf("/manifests does not show the chart at 0.3.1: %.300s", manifests)
	}

	// A new version within the range rolls out without anyone touching the Application.
	repo.Publish(t, charttest.WithVersion(webChart, "0.3.2"))
	waitApp(t, ns, "web", "Synced at chart version 0.3.2", syncedAt("0.3.2"))
	eventually(t, syncTimeout, "the Deployment labelled with chart web-0.3.2", func() (bool, string) {
		r := s.Run(Admin, "", "get", "deployment", "web-web", "-n", ns, "-o", `jsonpath={.metadata.labels.helm\.sh/chart}`)
		return r.Stdout == "web-0.3.2", r.Stdout + r.Stderr
	})
	if n := repo.Downloads("web"); n != 2 {
		t.Errorf("the repository served %d chart archives, want 2 (0.3.1 and 0.3.2, once each)", n)
	}

	// A private OCI registry: the Secret gives the password and the CA.
	reg := charttest.NewRegistry(t, "ci", "s3cret")
	reg.Push(t, charttest.WithVersion(webChart, "2.0.0"))
	ca := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(ca, reg.CA, 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "create", "secret", "generic", "registry", "-n", ns, "--from-literal=username=ci", "--from-literal=password=s3cret", "--from-file=ca.crt="+ca)
	kubectlStdin(t, Admin, chartApp(ns, "api", reg.URL, "web", "2.x", map[string]any{"source.helm": values, "source.credentialsRef": map[string]any{"name": "registry"}}), "apply", "-f", "-")
	waitApp(t, ns, "api", "Synced at chart version 2.0.0", syncedAt("2.0.0"))
	assertLiveAsRendered(t, s, ns, helmTemplate(t, charttest.WithVersion(webChart, "2.0.0"), "api", ns, kubeVersion, []string{"values-prod.yaml"}, []string{"image.tag=1.5"}))

	kubectlStdin(t, Admin, chartApp(ns, "anonymous", reg.URL, "web", "2.x", nil), "apply", "-f", "-")
	app := waitApp(t, ns, "anonymous", "Ready=False for the registry's certificate", func(app *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(app, "Ready"), "False/"+gitopsv1alpha1.ReasonChartFailed) && strings.Contains(condition(app, "Ready"), "certificate")
	})
	if len(app.Status.Resources) != 0 {
		t.Errorf("an Application that cannot read its chart has resources: %v", app.Status.Resources)
	}

	// A chart in Git whose Chart.lock pins a dependency of the Helm repository.
	git := gittest.NewServer(t).NewRepo("shop")
	git.Commit("main", map[string]string{
		"shop/Chart.yaml":              fmt.Sprintf("apiVersion: v2\nname: shop\nversion: 1.0.0\ndependencies:\n- name: web\n  version: \"~0.3\"\n  repository: %s\n", repo.URL),
		"shop/Chart.lock":              fmt.Sprintf("dependencies:\n- name: web\n  repository: %s\n  version: 0.3.0\ndigest: sha256:0000\ngenerated: \"2026-12-01T00:00:00Z\"\n", repo.URL),
		"shop/values.yaml":             "web:\n  replicas: 2\n",
		"shop/templates/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-settings}\ndata: {currency: EUR}\n",
	}, "a shop chart on the web chart")
	kubectlStdin(t, Admin, gitApp(ns, "shop", git, "shop", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "shop", "Synced", synced)
	for _, obj := range []string{"configmap/shop-settings", "deployment/shop-web", "service/shop-web"} {
		if r := s.Run(Admin, "", "get", obj, "-n", ns); r.Err != nil {
			t.Errorf("%s of the shop chart and its dependency: %s", obj, r.Stderr)
		}
	}
	if r := s.Run(Admin, "", "get", "deployment", "shop-web", "-n", ns, "-o", `jsonpath={.metadata.labels.helm\.sh/chart} {.spec.replicas}`); r.Stdout != "web-0.3.0 2" {
		t.Errorf("the dependency: chart and replicas %q, want the locked web-0.3.0 with the parent's value 2", r.Stdout)
	}
}
