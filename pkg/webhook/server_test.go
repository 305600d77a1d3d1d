package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const hookToken = "s3cret-token"

// hookFixture is a server on 127.0.0.1 with one GitHub Receiver, shop/github, selecting the
// Applications labelled team=shop, and records the refreshes it makes.
type hookFixture struct {
	url   string
	path  string
	mu    sync.Mutex
	calls []string // namespace/name: reason
	// refuse makes Refresh answer this error for an Application's name.
	refuse map[string]error
}

func newHookFixture(t *testing.T, rate float32, burst int) *hookFixture {
	t.Helper()
	f := &hookFixture{path: Path([]byte(hookToken), "github", "shop"), refuse: map[string]error{}}
	rcv := &gitopsv1alpha1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: "shop", UID: "uid-1"},
		Spec: gitopsv1alpha1.ReceiverSpec{Type: gitopsv1alpha1.ReceiverGitHub, SecretRef: gitopsv1alpha1.LocalObjectReference{Name: "hook"},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}}},
		Status: gitopsv1alpha1.ReceiverStatus{WebhookPath: f.path},
	}
	mk := func(name, path string, lbls map[string]string) *gitopsv1alpha1.Application {
		a := app("https://github.com/org/mono.git", "main", path, nil)
		a.Name, a.Labels = name, lbls
		return a
	}
	shop := map[string]string{"team": "shop"}
	apps := []*gitopsv1alpha1.Application{
		mk("web", "apps/web", shop),
		mk("cart", "apps/cart", shop),
		mk("paused", "apps/web", shop),
		mk("blog", "apps/web", map[string]string{"team": "news"}),
	}
	s := New(Config{
		Receiver: func(path string) (*gitopsv1alpha1.Receiver, bool) { return rcv, path == rcv.Status.WebhookPath },
		Token: func(_ context.Context, ns, name string) ([]byte, error) {
			if ns != "shop" || name != "hook" {
				t.Errorf("token of %s/%s read, want shop/hook", ns, name)
			}
			return []byte(hookToken), nil
		},
		Applications: func(_ context.Context, ns string, sel labels.Selector) ([]*gitopsv1alpha1.Application, error) {
			var out []*gitopsv1alpha1.Application
			for _, a := range apps {
				if a.Namespace == ns && sel.Matches(labels.Set(a.Labels)) {
					out = append(out, a)
				}
			}
			return out, nil
		},
		Refresh: func(_ context.Context, ns, name, reason string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if err := f.refuse[name]; err != nil {
				return err
			}
			f.calls = append(f.calls, ns+"/"+name+": "+reason)
			return nil
		},
		Rate: rate, Burst: burst,
	})
	srv := httptest.NewServer(s) // 127.0.0.1
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *hookFixture) refreshed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// deliver POSTs body to path with the GitHub event and signature headers (sig "" signs it with
// the token, "-" sends no signature).
func (f *hookFixture) deliver(t *testing.T, path, event string, body []byte, sig string) (int, string) {
	t.Helper()
	if sig == "" {
		sig = "sha256=" + hmacHex([]byte(hookToken), body)
	}
	req, err := http.NewRequest(http.MethodPost, f.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-GitHub-Event", event)
	if sig != "-" {
		req.Header.Set("X-Hub-Signature-256", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func pushTouching(paths ...string) []byte {
	files, _ := json.Marshal(paths)
	return []byte(`{"ref":"refs/heads/main","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
"repository":{"clone_url":"https://github.com/org/mono.git","ssh_url":"git@github.com:org/mono.git"},
"commits":[{"added":[],"removed":[],"modified":` + string(files) + `}]}`)
}

func TestAPushRefreshesTheSelectedApplicationsItConcernsOnce(t *testing.T) {
	f := newHookFixture(t, 0, 0)
	f.refuse["paused"] = apierrors.NewConflict(gitopsv1alpha1.Resource("applications"), "paused", errString("suspended"))
	code, body := f.deliver(t, f.path, "push", pushTouching("apps/web/deploy.yaml", "apps/web/svc.yaml"), "")
	if code != http.StatusOK {
		t.Fatalf("push: %d %s, want 200", code, body)
	}
	var res result
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Refreshed != 1 || res.Skipped != 1 || res.Failed != 0 {
		t.Errorf("answer %s (%v): want refreshed 1 (web), skipped 1 (paused, suspended)", body, err)
	}
	want := []string{"shop/web: push 0d1a26e67d8f to refs/heads/main (receiver shop/github)"}
	if got := f.refreshed(); !slices.Equal(got, want) {
		t.Errorf("refreshed %q, want %q: cart's path did not change, blog is not selected", got, want)
	}
}

func TestDeliveriesThatChangeNothing(t *testing.T) {
	push := pushTouching("apps/web/deploy.yaml")
	for _, tc := range []struct {
		name, path, event, sig string
		body                   []byte
		code                   int
	}{
		{"an unknown path", PathPrefix + strings.Repeat("0", 64), "push", "", push, http.StatusNotFound},
		{"outside /hook/", "/", "push", "", push, http.StatusNotFound},
		{"a wrong signature", "", "push", "sha256=" + hmacHex([]byte("guess"), push), push, http.StatusForbidden},
		{"a signature of another body", "", "push", "sha256=" + hmacHex([]byte(hookToken), pushTouching("apps/cart/x.yaml")), push, http.StatusForbidden},
		{"no signature", "", "push", "-", push, http.StatusUnauthorized},
		{"a body over 1 MiB", "", "push", "", append(push, bytes.Repeat([]byte(" "), MaxBody)...), http.StatusRequestEntityTooLarge},
		{"a ping", "", "ping", "", []byte(`{"zen":"Keep it logically awesome."}`), http.StatusOK},
		{"another event", "", "issues", "", []byte(`{"action":"opened"}`), http.StatusAccepted},
		{"a signed body that is no push payload", "", "push", "", []byte(`{"ref":"refs/heads/main"}`), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newHookFixture(t, 0, 0)
			path := tc.path
			if path == "" {
				path = f.path
			}
			code, body := f.deliver(t, path, tc.event, tc.body, tc.sig)
			if code != tc.code {
				t.Errorf("status %d (%s), want %d", code, body, tc.code)
			}
			if got := f.refreshed(); len(got) != 0 {
				t.Errorf("refreshed %v", got)
			}
		})
	}
}

func TestExactlyOneMiBIsAccepted(t *testing.T) {
	f := newHookFixture(t, 0, 0)
	push := pushTouching("apps/web/deploy.yaml")
	body := append(push, bytes.Repeat([]byte(" "), MaxBody-len(push))...)
	if code, out := f.deliver(t, f.path, "push", body, ""); code != http.StatusOK {
		t.Fatalf("a body of exactly %d bytes: %d %s, want 200", len(body), code, out)
	}
}

func TestEachReceiverIsRateLimited(t *testing.T) {
	f := newHookFixture(t, 0.001, 2)
	ping := []byte(`{}`)
	for i := range 2 {
		if code, body := f.deliver(t, f.path, "ping", ping, ""); code != http.StatusOK {
			t.Fatalf("delivery %d within the burst: %d %s", i+1, code, body)
		}
	}
	if code, _ := f.deliver(t, f.path, "push", pushTouching("apps/web/a.yaml"), ""); code != http.StatusTooManyRequests {
		t.Fatalf("a third delivery past a burst of 2: %d, want 429", code)
	}
	if got := f.refreshed(); len(got) != 0 {
		t.Errorf("a rate-limited push refreshed %v", got)
	}
	// An unknown path is refused before the limit is counted: it cannot be used to spend it.
	if code, _ := f.deliver(t, PathPrefix+"x", "push", ping, ""); code != http.StatusNotFound {
		t.Errorf("unknown path: %d, want 404", code)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
