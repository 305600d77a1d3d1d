package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

const hookToken = "e2e-webhook-token"

// githubPushBody is a push payload in GitHub's documented format: the repository's clone URLs,
// the ref, the new commit, and the files each commit changed.
func githubPushBody(t *testing.T, repo *gittest.Repo, after string, modified ...string) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": strings.Repeat("0", 40), "after": after,
		"repository": map[string]any{"name": "mono", "clone_url": repo.URL(), "html_url": strings.TrimSuffix(repo.URL(), ".git")},
		"pusher":     map[string]any{"name": "e2e"},
		"commits":    []map[string]any{{"id": after, "added": []string{}, "removed": []string{}, "modified": modified}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// deliver POSTs body to Ferry's webhook listener at path as GitHub does, signed with key ("" for
// no signature), and returns the status code and answer.
func deliver(t *testing.T, path string, body []byte, key string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+stack.Env["FERRY_WEBHOOK_PORT"]+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	if key != "" {
		// GitHub's algorithm: "sha256=" and the hex HMAC-SHA256 of the body with the secret.
		mac := hmac.New(sha256.New, []byte(key))
		mac.Write(body)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("delivering to the webhook listener: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestSignedPushRefreshesOnlyTheApplicationsItTouches: three Applications of one monorepo
// re-check Git only every hour; a GitHub-format push signed with the Receiver's token and
// touching apps/web makes web Synced at the new commit at once, and refreshes neither cart
// (another path) nor blog (same path, not selected by the Receiver). A wrong signature, an
// oversized body and an unknown path are refused with 403, 413 and 404 and refresh nothing.
func TestSignedPushRefreshesOnlyTheApplicationsItTouches(t *testing.T) {
	s := requireStack(t)
	if s.Env["FERRY_WEBHOOK_PORT"] == "" {
		t.Skip("the local stack serves no webhook listener (made before FERRY_WEBHOOK_PORT)")
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	first := repo.Commit("main", map[string]string{
		"apps/web/cm.yaml":  configMapYAML("web-settings", "v1"),
		"apps/cart/cm.yaml": configMapYAML("cart-settings", "v1"),
	}, "first")
	ns := newNamespace(t, "hook")
	// Each deploys into its own namespace: web and blog render the same objects.
	dests := map[string]string{}
	for _, a := range []struct{ name, path, team string }{{"web", "apps/web", "shop"}, {"cart", "apps/cart", "shop"}, {"blog", "apps/web", "news"}} {
		dests[a.name] = newNamespace(t, "hook-"+a.name)
		kubectlStdin(t, Admin, gitApp(ns, a.name, repo, a.path, dests[a.name], map[string]any{"syncPolicy.interval": "1h"}), "apply", "-f", "-")
		kubectl(t, "label", "application", a.name, "-n", ns, "team="+a.team)
	}
	for _, name := range []string{"web", "cart", "blog"} {
		waitApp(t, ns, name, name+" Synced at the first commit", func(a *gitopsv1alpha1.Application) bool {
			return synced(a) && a.Status.Sync.Revision == first
		})
	}

	kubectl(t, "create", "secret", "generic", "hook-token", "-n", ns, "--from-literal=token="+hookToken)
	kubectlStdin(t, Admin, fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: Receiver
metadata: {name: github, namespace: %s}
spec:
  type: github
  secretRef: {name: hook-token}
  selector: {matchLabels: {team: shop}}
`, ns), "apply", "-f", "-")
	var path string
	eventually(t, 60*time.Second, "the Receiver's webhookPath", func() (bool, string) {
		rcv, err := ferryClient(t, Admin).GitopsV1alpha1().Receivers(ns).Get(ctxFor(t), "github", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		path = rcv.Status.WebhookPath
		return strings.HasPrefix(path, "/hook/"), fmt.Sprintf("status %+v", rcv.Status)
	})
	out := kubectl(t, "get", "receivers", "-n", ns)
	if !strings.Contains(normalizeSpace(out), "github github "+path+" True") {
		t.Errorf("kubectl get receivers:\n%s\nwant type, path and ready", out)
	}

	second := repo.Commit("main", map[string]string{"apps/web/cm.yaml": configMapYAML("web-settings", "v2")}, "touch web")
	push := githubPushBody(t, repo, second, "apps/web/cm.yaml")

	for _, tc := range []struct {
		name, path, key string
		body            []byte
		code            int
	}{
		{"a wrong signature", path, "not-the-token", push, http.StatusForbidden},
		{"no signature", path, "", push, http.StatusUnauthorized},
		{"a body over 1 MiB", path, hookToken, append(push, bytes.Repeat([]byte(" "), 1<<20)...), http.StatusRequestEntityTooLarge},
		{"an unknown path", "/hook/" + strings.Repeat("ab", 32), hookToken, push, http.StatusNotFound},
	} {
		if code, answer := deliver(t, tc.path, tc.body, tc.key); code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, code, answer, tc.code)
		}
	}
	for _, name := range []string{"web", "cart", "blog"} {
		if app := getApp(t, ns, name); app.Status.Refresh != nil || app.Status.Sync.Revision != first {
			t.Errorf("%s after refused deliveries: refresh %+v, revision %.12s; want no refresh, still the first commit", name, app.Status.Refresh, app.Status.Sync.Revision)
		}
	}

	code, answer := deliver(t, path, push, hookToken)
	if code != http.StatusOK {
		t.Fatalf("the signed push: %d %s, want 200", code, answer)
	}
	var res struct{ Refreshed int }
	if err := json.Unmarshal([]byte(answer), &res); err != nil || res.Refreshed != 1 {
		t.Errorf("answer %s: want refreshed 1", answer)
	}
	app := waitApp(t, ns, "web", "web Synced at the pushed commit", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == second
	})
	if r := app.Status.Refresh; r == nil || r.HandledAt == nil || !strings.Contains(r.Reason, "(receiver "+ns+"/github)") {
		t.Errorf("web's status.refresh %+v: want handled, with the push and the Receiver as reason", r)
	}
	if v, _ := configMapValue(t, dests["web"], "web-settings"); v != "v2" {
		t.Errorf("web-settings = %q after the push, want v2", v)
	}
	refreshedOthers := 0
	for _, name := range []string{"cart", "blog"} {
		if other := getApp(t, ns, name); other.Status.Refresh != nil {
			refreshedOthers++
			t.Errorf("%s was refreshed by a push that does not concern it: %+v", name, other.Status.Refresh)
		}
	}
	if refreshedOthers != 0 {
		t.Errorf("%d other Applications refreshed, want 0", refreshedOthers)
	}
}

func refreshPath(ns, name string) string {
	return fmt.Sprintf("/apis/gitops.ferry.dev/v1alpha1/namespaces/%s/applications/%s/refresh", ns, name)
}

// TestRefreshNeedsItsOwnVerb: "create applications/refresh" is granted by ferry-edit (and admin by
// aggregation), not by ferry-view; a refresh by an editor is recorded with the editor as its
// requester and handled by the controller, a viewer's is 403.
func TestRefreshNeedsItsOwnVerb(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "refresh")
	kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=ferry-view", "--user=viewer", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=ferry-edit", "--user=editor", "-n", ns)
	kubectl(t, "create", "rolebinding", "other", "--clusterrole=admin", "--user=other", "-n", ns)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("refresh")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("refresh-cm", "v1")}, "first")
	dest := newNamespace(t, "refresh-dest")
	kubectlStdin(t, Admin, gitApp(ns, "shop", repo, "app", dest, map[string]any{"syncPolicy.interval": "1h"}), "apply", "-f", "-")

	for _, tc := range []struct{ user, want string }{{"editor", "yes"}, {"viewer", "no"}} {
		eventually(t, 60*time.Second, tc.user+" may create applications/refresh: "+tc.want, func() (bool, string) {
			r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "--subresource=refresh", "-n", ns, "--as="+tc.user)
			return strings.TrimSpace(r.Stdout) == tc.want, r.String()
		})
	}
	eventually(t, 60*time.Second, "the admin ClusterRole aggregates applications/refresh", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "--subresource=refresh", "-n", ns, "--as=other")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})

	body := `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationRefresh","metadata":{"name":"shop"},"spec":{"reason":"e2e"}}`
	file := filepath.Join(t.TempDir(), "refresh.json")
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.Run(Admin, "", "create", "--raw", refreshPath(ns, "shop"), "-f", file, "--as=viewer")
	if r.Err == nil {
		t.Fatalf("a viewer refreshed: %s", r)
	}
	assertForbidden(t, r, "viewer create applications/refresh")
	if app := getApp(t, ns, "shop"); app.Status.Refresh != nil {
		t.Errorf("a refused refresh was recorded: %+v", app.Status.Refresh)
	}

	out := kubectl(t, "create", "--raw", refreshPath(ns, "shop"), "-f", file, "--as=editor")
	var resp gitopsv1alpha1.ApplicationRefresh
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Kind != "ApplicationRefresh" || resp.Status.RequestedAt.IsZero() {
		t.Fatalf("the refresh response is not an ApplicationRefresh with a time (%v):\n%s", err, out)
	}
	app := waitApp(t, ns, "shop", "the editor's refresh handled", func(a *gitopsv1alpha1.Application) bool {
		r := a.Status.Refresh
		return r != nil && r.HandledAt != nil && r.HandledAt.Equal(&resp.Status.RequestedAt)
	})
	if r := app.Status.Refresh; r.RequestedBy != "editor" || r.Reason != "e2e" {
		t.Errorf("status.refresh %+v: want requested by editor (from the authenticated request), reason e2e", r)
	}
}
