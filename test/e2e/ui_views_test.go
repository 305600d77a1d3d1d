package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// uiDeploymentYAML is a Deployment of two replicas, which the stack's kwok Node runs.
const uiDeploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ui-tree
spec:
  replicas: 2
  selector: {matchLabels: {app: ui-tree}}
  template:
    metadata: {labels: {app: ui-tree}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
`

// TestUIViews drives the second slice of the web UI in a headless chromium, as a person with the
// built-in edit role: after a hand edit the Diff page shows the ConfigMap's value as a removed
// and an added line; the Tree page shows Deployment → ReplicaSet → Pods; sorting the list by
// name descending puts another Application first.
func TestUIViews(t *testing.T) {
	s := requireStack(t)
	chromium(t)
	p := buildPlugin(t, s)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("ui-views")
	repo.Commit("main", map[string]string{
		"cfg/cm.yaml":          configMapYAML("ui-views-settings", "v1"),
		"tree/deployment.yaml": uiDeploymentYAML,
	}, "first")
	ns := newNamespace(t, "ui-views")
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=edit", "--user=editor", "-n", ns)
	// Automated without selfHeal, so a hand edit stays until someone syncs.
	kubectlStdin(t, Admin, gitApp(ns, "cfg", repo, "cfg", ns, map[string]any{"syncPolicy.automated": map[string]any{"prune": true}}), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "tree", repo, "tree", ns, map[string]any{"syncPolicy.automated": map[string]any{"prune": true}}), "apply", "-f", "-")
	for _, name := range []string{"cfg", "tree"} {
		waitApp(t, ns, name, name+": Synced and Healthy", func(a *gitopsv1alpha1.Application) bool {
			return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
		})
	}
	eventually(t, 30*time.Second, "editor may list pods and Applications", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "watch", "applications.gitops.ferry.dev", "-n", ns, "--as=editor")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})
	browser := newBrowser(t)
	run(t, browser, "open the printed URL", chromedp.Navigate(p.startUI(t, "editor", ns)))
	waitDOM(t, browser, 10*time.Second, "cfg's row", rowState(ns, "cfg"), "Synced/Healthy")
	base := "http://" + strings.SplitN(strings.TrimPrefix(mustEval(t, browser, "location.href"), "http://"), "/", 2)[0]

	t.Run("the diff shows the hand-edited value removed and Git's added", func(t *testing.T) {
		kubectl(t, "patch", "configmap", "ui-views-settings", "-n", ns, "--type=merge", "-p", `{"data":{"value":"by hand"}}`)
		waitApp(t, ns, "cfg", "cfg OutOfSync after the hand edit", func(a *gitopsv1alpha1.Application) bool {
			return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
		})
		start := time.Now()
		run(t, browser, "open cfg's Diff page", chromedp.Navigate(base+"/applications/"+ns+"/cfg/diff"), chromedp.WaitVisible(chromedp.CSS("#diff-summary")))
		t.Logf("Diff page: %s from navigating to its content shown (the API computes the diff by a server-side dry run)", time.Since(start).Round(time.Millisecond))
		lines := func(class string) string {
			return fmt.Sprintf(`Array.from(document.querySelectorAll("pre.diff .%s")).map(function(e){return e.textContent}).join("\n")`, class)
		}
		del, add := mustEval(t, browser, lines("del")), mustEval(t, browser, lines("add"))
		if !strings.Contains(del, "-  value: by hand") {
			t.Errorf("removed lines %q, want the hand edit's value", del)
		}
		if !strings.Contains(add, "+  value: v1") {
			t.Errorf("added lines %q, want Git's value", add)
		}
		// The colours come from the stylesheet (the CSP allows no inline style).
		if c := mustEval(t, browser, `getComputedStyle(document.querySelector("pre.diff .add")).backgroundColor === getComputedStyle(document.querySelector("pre.diff .del")).backgroundColor ? "same" : "differ"`); c != "differ" {
			t.Errorf("added and removed lines have the %s background", c)
		}
		if h := mustEval(t, browser, `document.querySelector(".diff-item h2").textContent`); !strings.Contains(h, "Update") || !strings.Contains(h, "ConfigMap "+ns+"/ui-views-settings") {
			t.Errorf("the diff's object heading is %q", h)
		}
		screenshot(t, browser, "ui-diff.png")
	})

	t.Run("the sync form dry-runs, then syncs, only the ticked object", func(t *testing.T) {
		run(t, browser, "open cfg's page", chromedp.Navigate(base+"/applications/"+ns+"/cfg"), chromedp.WaitVisible(chromedp.CSS("#sync-form")))
		box := `#app-resources input.select-resource[data-kind="ConfigMap"][data-name="ui-views-settings"]`
		run(t, browser, "tick the ConfigMap and Dry run", chromedp.Click(chromedp.CSS(box)), chromedp.Click(chromedp.CSS("#sync-dry-run")))
		waitDOM(t, browser, 5*time.Second, "the selection counted", `document.getElementById("sync-selection").textContent.split(" ")[0]`, "1")
		run(t, browser, "click Sync", chromedp.Click(chromedp.CSS("#sync-button")))
		waitDOM(t, browser, 10*time.Second, "the dry run accepted", `document.getElementById("sync-result").dataset.status || ""`, "201")
		if msg := mustEval(t, browser, `document.getElementById("sync-result").textContent`); !strings.HasPrefix(msg, "Dry run of 1 selected object requested") {
			t.Errorf("the answer reads %q", msg)
		}
		op := `(function(){var o=document.getElementById("app-operation");return o.getAttribute("data-phase")+" "+/dry run/.test(o.textContent)+" "+/1 selected object/.test(o.textContent)})()`
		waitDOM(t, browser, 60*time.Second, "the dry run shown finished, live", op, "Succeeded true true")
		// The tick survived the live section being replaced; a dry run changed nothing.
		if got := mustEval(t, browser, `String(document.querySelector('`+box+`').checked)`); got != "true" {
			t.Errorf("the ConfigMap's box is unticked after the page updated")
		}
		if got := mustEval(t, browser, `document.getElementById("app-sync").dataset.sync`); got != "OutOfSync" {
			t.Errorf("after a dry run cfg is %s, want still OutOfSync", got)
		}
		run(t, browser, "untick Dry run, click Sync", chromedp.Click(chromedp.CSS("#sync-dry-run")), chromedp.Click(chromedp.CSS("#sync-button")))
		waitDOM(t, browser, 60*time.Second, "cfg Synced, live", `document.getElementById("app-sync").dataset.sync`, "Synced")
		screenshot(t, browser, "ui-sync-form.png")
	})

	t.Run("the tree shows Deployment, ReplicaSet and its Pods", func(t *testing.T) {
		run(t, browser, "open tree's Tree page", chromedp.Navigate(base+"/applications/"+ns+"/tree/tree"), chromedp.WaitVisible(chromedp.CSS("#app-tree")))
		pods := `String(document.querySelectorAll('#app-tree > li[data-kind="Deployment"][data-name="ui-tree"] li[data-kind="ReplicaSet"] li[data-kind="Pod"]').length)`
		if got := mustEval(t, browser, pods); got != "2" {
			t.Errorf("the tree shows %s Pods under the Deployment's ReplicaSet, want 2:\n%s", got, mustEval(t, browser, `document.getElementById("app-tree").innerText`))
		}
		if got := mustEval(t, browser, `document.querySelector('#app-tree li[data-kind="Pod"] .state').textContent`); got != "Running, 1/1 ready" {
			t.Errorf("a Pod's state reads %q, want Running, 1/1 ready", got)
		}
		// Keyboard, as the WAI-ARIA tree pattern has it: Tab reaches the first item, Left closes
		// it, Right opens it again, Down moves to its ReplicaSet.
		dep := `document.querySelector('#app-tree > li[data-kind="Deployment"]')`
		focused := `(document.activeElement.getAttribute("data-kind") || "") + " " + (document.activeElement.getAttribute("aria-expanded") || "")`
		waitDOM(t, browser, 10*time.Second, "the tree's live stream open", `document.body.dataset.live || ""`, "open")
		run(t, browser, "focus the Deployment", chromedp.Focus(chromedp.CSS(`#app-tree > li[data-kind="Deployment"]`)))
		waitDOM(t, browser, 5*time.Second, "the Deployment focused, open", focused, "Deployment true")
		if got := mustEval(t, browser, dep+`.getAttribute("tabindex")`); got != "0" {
			t.Errorf("the first item's tabindex is %q, want 0 (the tree's one tab stop)", got)
		}
		// On a loaded machine a key can reach chromium while the live stream is swapping the tree
		// in; the press is repeated (at most three times) until the page shows its effect.
		closed := focused + ` + " " + String(` + dep + `.querySelector("[role=group]").offsetParent === null)`
		pressUntil(t, browser, kb.ArrowLeft, "the Deployment closed", closed, "Deployment false true")
		run(t, browser, "press Right, then Down", chromedp.KeyEvent(kb.ArrowRight), chromedp.KeyEvent(kb.ArrowDown))
		waitDOM(t, browser, 5*time.Second, "the ReplicaSet focused", focused, "ReplicaSet true")
		screenshot(t, browser, "ui-tree.png")

		// Live: a Pod deleted by hand is replaced by its ReplicaSet, and the open page shows the
		// new one without a reload.
		names := `Array.from(document.querySelectorAll('#app-tree li[data-kind="Pod"]')).map(function(e){return e.getAttribute("data-name")}).sort().join(" ")`
		before := strings.Fields(mustEval(t, browser, names))
		kubectl(t, "delete", "pod", before[0], "-n", ns, "--wait=false")
		eventually(t, 60*time.Second, "the tree shows the replacement Pod, live", func() (bool, string) {
			got, err := eval(browser, names)
			pods := strings.Fields(got)
			return err == nil && len(pods) == 2 && !slices.Contains(pods, before[0]), fmt.Sprintf("Pods %q (before: %q), %v", got, before, err)
		})
	})

	t.Run("a Pod's log streams", func(t *testing.T) {
		run(t, browser, "open tree's Logs tab", chromedp.Navigate(base+"/applications/"+ns+"/tree"),
			chromedp.Click(chromedp.CSS(`nav.tabs a[href="/applications/`+ns+`/tree/logs"]`)), chromedp.WaitVisible(chromedp.CSS("#log-lines")))
		received := `document.getElementById("log-lines").getAttribute("data-received") || "0"`
		var first int
		eventually(t, 30*time.Second, "the first lines of the Pod's log", func() (bool, string) {
			got, err := eval(browser, received)
			_, _ = fmt.Sscan(got, &first)
			return err == nil && first > 0, fmt.Sprintf("%s lines, %v", got, err)
		})
		if text := mustEval(t, browser, `document.getElementById("log-lines").textContent`); !strings.Contains(text, localstack.PodLogMessage) {
			t.Errorf("the log shows %q, want lines saying %q", text, localstack.PodLogMessage)
		}
		// Followed: lines written after the page opened arrive without a reload.
		eventually(t, 30*time.Second, "new lines arrive", func() (bool, string) {
			got, err := eval(browser, received)
			var n int
			_, _ = fmt.Sscan(got, &n)
			return err == nil && n > first, fmt.Sprintf("%s lines, %d at first, %v", got, first, err)
		})
		if pods := mustEval(t, browser, `String(document.querySelectorAll("nav.pods a").length)`); pods != "2" {
			t.Errorf("the Logs page offers %s Pods, want the Deployment's 2", pods)
		}
		screenshot(t, browser, "ui-logs.png")
	})

	t.Run("the Manifests and Events pages show what Git renders and what Ferry did", func(t *testing.T) {
		run(t, browser, "open cfg's Manifests page", chromedp.Navigate(base+"/applications/"+ns+"/cfg/manifests"), chromedp.WaitVisible(chromedp.CSS("pre.yaml")))
		if y := mustEval(t, browser, `document.querySelector("pre.yaml").textContent`); !strings.Contains(y, "name: ui-views-settings") || !strings.Contains(y, "value: v1") {
			t.Errorf("the manifests show %q, want the ConfigMap as Git has it", y)
		}
		// The controller's Events are sent asynchronously: reload until the sync's is there.
		eventually(t, 30*time.Second, "cfg's Synced Event on its Events page", func() (bool, string) {
			c, cancel := context.WithTimeout(browser, 10*time.Second)
			defer cancel()
			if err := chromedp.Do(c, chromedp.Navigate(base+"/applications/"+ns+"/cfg/events")); err != nil {
				return false, err.Error()
			}
			got, err := chromedp.Run(c, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#app-events tbody th")).map(function(e){return e.textContent}).join(",")`))
			return err == nil && strings.Contains(got, "Synced"), fmt.Sprintf("reasons %q, %v", got, err)
		})
	})

	t.Run("a person who may not list Pods sees that in the tree", func(t *testing.T) {
		kubectl(t, "create", "role", "ui-no-pods", "-n", ns, "--verb=get,list,watch", "--resource=applications.gitops.ferry.dev,replicasets.apps")
		kubectl(t, "create", "rolebinding", "ui-no-pods", "-n", ns, "--role=ui-no-pods", "--user=other")
		eventually(t, 30*time.Second, "other may list ReplicaSets", func() (bool, string) {
			r := s.Run(Admin, "", "auth", "can-i", "list", "replicasets.apps", "-n", ns, "--as=other")
			return strings.TrimSpace(r.Stdout) == "yes", r.String()
		})
		tab := newTab(t, browser)
		run(t, tab, "open other's UI", chromedp.Navigate(p.startUI(t, "other", ns)))
		waitDOM(t, tab, 10*time.Second, "tree's row as other", rowState(ns, "tree"), "Synced/Healthy")
		run(t, tab, "open tree's Tree page", chromedp.Click(chromedp.CSS(`a[href="/applications/`+ns+`/tree"]`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/applications/`+ns+`/tree/tree"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/applications/`+ns+`/tree/tree"]`)), chromedp.WaitVisible(chromedp.CSS("#app-tree")))
		note := mustEval(t, tab, `(function(){var n=document.querySelector('#app-tree li[data-kind="ReplicaSet"] .note');return n?n.textContent:document.getElementById("app-tree").innerText})()`)
		if note != "not permitted to list pods in "+ns {
			t.Errorf("under the ReplicaSet the tree says %q, want that Pods may not be listed", note)
		}
	})

	t.Run("sorting by name descending puts tree first", func(t *testing.T) {
		run(t, browser, "open the list", chromedp.Navigate(base+"/"))
		first := `document.querySelector("#apps-body tr").id`
		waitDOM(t, browser, 10*time.Second, "cfg first by default", first, "app/"+ns+"/cfg")
		run(t, browser, "sort by name", chromedp.Click(chromedp.CSS(`thead th:first-child a.sort`)))
		waitDOM(t, browser, 10*time.Second, "name sorted ascending", `document.querySelector('th[aria-sort]') ? document.querySelector('th[aria-sort]').textContent.trim().split(" ")[0] + " " + document.querySelector('th[aria-sort]').getAttribute("aria-sort") : ""`, "Name ascending")
		run(t, browser, "sort by name again", chromedp.Click(chromedp.CSS(`th[aria-sort] a.sort`)))
		waitDOM(t, browser, 10*time.Second, "name sorted descending", `document.querySelector('th[aria-sort]') ? document.querySelector('th[aria-sort]').getAttribute("aria-sort") : ""`, "descending")
		if got := mustEval(t, browser, first); got != "app/"+ns+"/tree" {
			t.Errorf("sorted by name descending, the first row is %s, want tree's", got)
		}
	})
}

// mustEval evaluates expr in the page, failing the test when the page cannot answer.
func mustEval(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	v, err := eval(ctx, expr)
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// pressUntil presses key until expr reads want, at most three times, each given 3 s to show.
func pressUntil(t *testing.T, browser context.Context, key, what, expr, want string) {
	t.Helper()
	var got string
	for attempt := 1; attempt <= 3; attempt++ {
		run(t, browser, "press "+what, chromedp.KeyEvent(key))
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			got = mustEval(t, browser, expr)
			if got == want {
				if attempt > 1 {
					t.Logf("%s after %d presses", what, attempt)
				}
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	t.Fatalf("%s: %q after three presses, want %q", what, got, want)
}
