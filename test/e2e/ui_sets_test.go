package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestUISetsAndClusters drives the web UI's ApplicationSets and Clusters pages in a headless
// chromium: an ApplicationSet with a list generator of two elements shows its two Applications,
// Synced, on its page, with links that open them; the Clusters page shows the cluster Ferry
// runs in, counting those Applications, and a registered Cluster with its server and version;
// a person with a namespace's edit role is shown the API's 403 for Clusters.
func TestUISetsAndClusters(t *testing.T) {
	s := requireStack(t)
	chromium(t)
	p := buildPlugin(t, s)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("ui-sets")
	repo.Commit("main", map[string]string{
		"envs/dev/settings.yaml": configMapYAML("settings-dev", "v1"),
		"envs/qa/settings.yaml":  configMapYAML("settings-qa", "v1"),
	}, "two environments")
	ns := newNamespace(t, "ui-sets")
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=edit", "--user=editor", "-n", ns)
	kubectlStdin(t, Admin, fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: ApplicationSet
metadata: {name: envs, namespace: %[1]s}
spec:
  generators:
  - list: {elements: [{"env": "dev"}, {"env": "qa"}]}
  strategy:
    rollingSync:
      steps:
      - {name: dev, selector: {matchLabels: {env: dev}}}
      - {name: qa, selector: {matchLabels: {env: qa}}}
  template:
    metadata: {name: 'settings-{{.env}}', labels: {env: '{{.env}}'}}
    spec:
      source: {repoURL: %[2]s, revision: main, path: 'envs/{{.env}}'}
      destination: {namespace: %[1]s}
      syncPolicy: {automated: {prune: true}}
`, ns, repo.URL()), "apply", "-f", "-")
	waitAppSet(t, ns, "envs", "two Applications Synced", generatedSynced("settings-dev", "settings-qa"))
	cluster := fmt.Sprintf("ui-sets-%05d", rand.IntN(100000))
	registerSelf(t, cluster, map[string]string{"env": "e2e"})
	eventually(t, syncTimeout, "the registered Cluster Ready", func() (bool, string) {
		c, err := ferryClient(t, Admin).GitopsV1alpha1().Clusters().Get(ctxFor(t), cluster, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return meta.IsStatusConditionTrue(c.Status.Conditions, gitopsv1alpha1.ClusterConditionReady) && c.Status.KubernetesVersion != "", fmt.Sprintf("%+v", c.Status)
	})

	browser := newBrowser(t)
	run(t, browser, "open the printed URL", chromedp.Navigate(p.startUI(t, Admin, ns)))
	waitDOM(t, browser, 10*time.Second, "the list", `document.getElementById("apps-body") ? "shown" : "not yet"`, "shown")
	current := `(function(){var a=document.querySelector('nav[aria-label="Main"] a[aria-current]');return a?a.textContent+" "+a.getAttribute("aria-current"):"none"})()`

	t.Run("an ApplicationSet's page lists its two Applications with links that open them", func(t *testing.T) {
		run(t, browser, "open ApplicationSets from the top navigation", chromedp.Click(chromedp.CSS(`nav[aria-label="Main"] a[href="/applicationsets"]`)))
		setRow := fmt.Sprintf(`(function(){var r=document.getElementById(%q);return r?r.dataset.applications+" "+r.dataset.ready:"absent"})()`, "appset/"+ns+"/envs")
		waitDOM(t, browser, 10*time.Second, "the set's row: 2 Applications, Ready", setRow, "2 True")
		if got := mustEval(t, browser, current); got != "ApplicationSets page" {
			t.Errorf("the top navigation marks %q, want ApplicationSets as the current page", got)
		}
		run(t, browser, "open the set's page", chromedp.Click(chromedp.CSS(`a[href="/applicationsets/`+ns+`/envs"]`)), chromedp.WaitVisible(chromedp.CSS("#set-apps-body")))
		lines := `Array.from(document.querySelectorAll("#set-apps-body tr")).map(function(r){return r.id+" "+r.dataset.sync+" "+r.querySelector("th a").getAttribute("href")}).join(", ")`
		want := fmt.Sprintf("app/%[1]s/settings-dev Synced /applications/%[1]s/settings-dev, app/%[1]s/settings-qa Synced /applications/%[1]s/settings-qa", ns)
		waitDOM(t, browser, 10*time.Second, "the set's two Applications, Synced, with their links", lines, want)
		if got := mustEval(t, browser, `document.getElementById("set-live").textContent`); !strings.Contains(got, "list of 2 elements") || !strings.Contains(got, "automated (prune)") {
			t.Errorf("the set's summary reads %q; want its generator and the generated Applications' sync policy", got)
		}
		steps := `Array.from(document.querySelectorAll("#set-steps-body tr")).map(function(r){return r.id+" "+r.dataset.phase+" "+r.cells[4].textContent}).join(", ")`
		waitDOM(t, browser, 10*time.Second, "the rolling sync's two steps, in order, Complete", steps, "step/dev Complete 1/1, step/qa Complete 1/1")
		screenshot(t, browser, "ui-applicationsets.png")
		run(t, browser, "follow settings-qa's link", chromedp.Click(chromedp.CSS(`#set-apps-body a[href="/applications/`+ns+`/settings-qa"]`)), chromedp.WaitVisible(chromedp.CSS("#app-sync")))
		if got := mustEval(t, browser, `location.pathname + " " + document.getElementById("app-sync").dataset.sync`); got != "/applications/"+ns+"/settings-qa Synced" {
			t.Errorf("the link opened %q, want settings-qa's page, Synced", got)
		}
	})

	t.Run("the Clusters page shows the cluster Ferry runs in and the registered Cluster", func(t *testing.T) {
		run(t, browser, "open Clusters from the top navigation", chromedp.Click(chromedp.CSS(`nav[aria-label="Main"] a[href="/clusters"]`)), chromedp.WaitVisible(chromedp.CSS("#clusters-body")))
		if got := mustEval(t, browser, current); got != "Clusters page" {
			t.Errorf("the top navigation marks %q, want Clusters as the current page", got)
		}
		// The UI was started with -n: the set's two Applications are those counted, in-cluster.
		waitDOM(t, browser, 10*time.Second, "in-cluster: 2 Applications", `document.getElementById("cluster/(in-cluster)").dataset.applications`, "2")
		row := fmt.Sprintf(`(function(){var r=document.getElementById(%q);return r?r.dataset.ready+" "+r.querySelector("code").textContent+" "+r.cells[2].textContent:"absent"})()`, "cluster/"+cluster)
		waitDOM(t, browser, 10*time.Second, "the registered Cluster, Ready, with its server and version", row,
			"True https://127.0.0.1:"+s.Env["KUBE_PORT"]+" "+getCluster(t, cluster).Status.KubernetesVersion)
		if txt := mustEval(t, browser, `document.querySelector("main").textContent`); strings.Contains(txt, cluster+"-credentials") {
			t.Errorf("the Clusters page shows the Cluster's credentials Secret")
		}
		screenshot(t, browser, "ui-clusters.png")
		run(t, browser, "open in-cluster's page", chromedp.Click(chromedp.CSS(`a[href="/clusters/%28in-cluster%29"]`)), chromedp.WaitVisible(chromedp.CSS("#cluster-apps-body")))
		lines := `Array.from(document.querySelectorAll("#cluster-apps-body tr")).map(function(r){return r.id}).join(", ")`
		waitDOM(t, browser, 10*time.Second, "the Applications deploying in-cluster", lines, fmt.Sprintf("app/%[1]s/settings-dev, app/%[1]s/settings-qa", ns))
	})

	t.Run("a person who may not list Clusters is shown the API's 403", func(t *testing.T) {
		eventually(t, 30*time.Second, "editor may list Applications", func() (bool, string) {
			r := s.Run(Admin, "", "auth", "can-i", "list", "applications.gitops.ferry.dev", "-n", ns, "--as=editor")
			return strings.TrimSpace(r.Stdout) == "yes", r.String()
		})
		tab := newTab(t, browser)
		editorURL := p.startUI(t, "editor", ns)
		run(t, tab, "open the editor's UI", chromedp.Navigate(editorURL))
		waitDOM(t, tab, 10*time.Second, "the list", `document.getElementById("apps-body") ? "shown" : "not yet"`, "shown")
		run(t, tab, "open Clusters", chromedp.Click(chromedp.CSS(`nav[aria-label="Main"] a[href="/clusters"]`)), chromedp.WaitVisible(chromedp.CSS(`[role="alert"][data-status]`)))
		alert := mustEval(t, tab, `(function(){var a=document.querySelector('[role="alert"][data-status]');return a.dataset.status+" "+a.textContent})()`)
		if !strings.HasPrefix(alert, "403 ") || !strings.Contains(alert, `User "editor" cannot list resource "clusters" in API group "gitops.ferry.dev" at the cluster scope`) {
			t.Errorf("the editor's Clusters page says %q; want the API's 403 and its message", alert)
		}
	})
}

func getCluster(t *testing.T, name string) *gitopsv1alpha1.Cluster {
	t.Helper()
	c, err := ferryClient(t, Admin).GitopsV1alpha1().Clusters().Get(ctxFor(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get cluster %s: %v", name, err)
	}
	return c
}
