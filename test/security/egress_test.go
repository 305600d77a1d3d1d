package security

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/counting"
)

// refused is how an Application's status says the egress policy refused a fetch.
const refused = "fetch refused by egress policy (--egress-deny-cidrs)"

// deniedService stands for an internal service on an address the stack's egress policy denies:
// the stack allows 127.0.0.1/32 (its own Git servers), and the rest of loopback stays denied
// as it is by default. It answers every request with body and counts them.
func deniedService(t *testing.T, body string) (url string, requests func() int64) {
	t.Helper()
	srv := counting.NewServer(t, "127.0.0.2:0", counting.Body(body))
	return srv.URL, srv.Requests
}

// checkNothingLeaks checks that an Application's status, /manifests and the namespace's Events
// hold neither secret nor the internal URL (url: one the tenant's own spec or Chart.yaml does not
// name), and that its status says the egress policy refused the fetch.
func checkNothingLeaks(t *testing.T, ns, name, secret, url string) {
	t.Helper()
	app := waitForApp(t, ns, name, 2*time.Minute, "refused by the egress policy", func(a *gitopsv1alpha1.Application) bool {
		c := condition(a, "Ready")
		return c != nil && c.Status == metav1.ConditionFalse && strings.Contains(c.Message, refused)
	})
	if text := fmt.Sprintf("%+v", app.Status); strings.Contains(text, secret) || strings.Contains(text, url) {
		t.Errorf("%s: the status names the internal service or its answer: %s", name, text)
	}
	ctx := ctxFor(t)
	if _, err := ferry(t, editor).GitopsV1alpha1().Applications(ns).GetManifests(ctx, name, metav1.GetOptions{}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("%s: /manifests gave %v, want a refusal without the internal service's answer", name, err)
	}
	events, err := kube(t, admin).CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	for _, e := range events.Items {
		if strings.Contains(e.Message, secret) {
			t.Errorf("an Event carries the internal service's answer: %s", e.Message)
		}
	}
}

// TestAttackChartDependencyOnLoopback is the dependency SSRF of the README's table: a tenant's
// chart in Git declares a dependency whose repository is an internal service (an address the
// egress policy denies). The service sees no request, and nothing it would say reaches
// /manifests, the status or Events.
func TestAttackChartDependencyOnLoopback(t *testing.T) {
	requireStack(t)
	const secret = "AKIA-dependency-index"
	url, requests := deniedService(t, "apiVersion: v1\nentries: {}\n# "+secret+"\n")
	repo := gittest.NewServer(t).NewRepo("deps")
	repo.Commit("main", map[string]string{
		"chart/Chart.yaml":        "apiVersion: v2\nname: web\nversion: 1.0.0\ndependencies:\n- name: creds\n  version: \"*\"\n  repository: " + url + "/admin\n",
		"chart/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
	}, "a chart with a dependency on an internal service")

	ns := newTenant(t, "egress-deps")
	createApp(t, editor, newApp(ns, "deps", repo.URL(), "chart"))
	checkNothingLeaks(t, ns, "deps", secret, secret)
	if n := requests(); n != 0 {
		t.Fatalf("the internal service got %d requests from Ferry", n)
	}
}

// TestAttackRepositoryOnADeniedAddress is the blind SSRF and port-scan oracle of the README's
// table: a tenant points a Git repoURL, a Helm chart repository and an OCI registry at an
// internal address, and points a chart repository's index (on an allowed host) at an internal
// URL for the archive. The internal service sees no request; each Application says the egress
// policy refused the fetch, naming neither the internal URL nor anything it would answer.
func TestAttackRepositoryOnADeniedAddress(t *testing.T) {
	requireStack(t)
	const secret = "internal-admin-page"
	url, requests := deniedService(t, secret)
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "apiVersion: v1\nentries:\n  web:\n  - name: web\n    version: 1.0.0\n    urls: [%q]\n", url+"/admin/delete?id=1")
	}))
	t.Cleanup(index.Close)

	ns := newTenant(t, "egress-repo")
	chartApp := func(name, repoURL string) *gitopsv1alpha1.Application {
		app := newApp(ns, name, repoURL, "")
		app.Spec.Source.Chart, app.Spec.Source.Revision = "web", "1.0.0"
		return app
	}
	createApp(t, editor, newApp(ns, "git", url+"/team/app.git", "app"))
	createApp(t, editor, chartApp("helm", url+"/charts"))
	createApp(t, editor, chartApp("oci", "oci://"+strings.TrimPrefix(url, "http://")+"/charts"))
	createApp(t, editor, chartApp("archive", index.URL))
	for _, name := range []string{"git", "helm", "oci"} {
		checkNothingLeaks(t, ns, name, secret, secret)
	}
	checkNothingLeaks(t, ns, "archive", secret, "/admin/delete")
	if n := requests(); n != 0 {
		t.Fatalf("the internal service got %d requests from Ferry", n)
	}
}
