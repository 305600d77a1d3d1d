package application

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// authRecorder is an HTTP proxy in front of a Git server that keeps the Authorization header of
// every request it passes on.
type authRecorder struct {
	mu    sync.Mutex
	seen  []string
	proxy *httputil.ReverseProxy
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	a.mu.Unlock()
	a.proxy.ServeHTTP(w, r)
}

func (a *authRecorder) headers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func configMapValue(t *testing.T, objs []*unstructured.Unstructured, name string) string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == name {
			v, _, _ := unstructured.NestedString(o.Object, "data", "value")
			return v
		}
	}
	t.Fatalf("no ConfigMap %s among %d objects", name, len(objs))
	return ""
}

// TestPreviewOfAForkSendsNoCredentials: a preview of a fork renders the fork without the
// Application's repository credentials (the fork's server never sees them), while a preview
// naming the Application's own URL keeps them; and a preview compares as the person given, who
// is refused what they may not do, where the Application's identity is not.
func TestPreviewOfAForkSendsNoCredentials(t *testing.T) {
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	origin := gittest.NewServer(t)
	repo := origin.NewRepo("web")
	cm := func(v string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: preview-fork\ndata:\n  value: " + v + "\n"
	}
	repo.Commit("main", map[string]string{"app/cm.yaml": cm("origin")}, "origin")
	origin.RequireBasicAuth("ferry", "s3cret-pw")
	forkServer := gittest.NewServer(t)
	forkServer.NewRepo("web").Commit("feature", map[string]string{"app/cm.yaml": cm("fork")}, "fork")
	target, err := url.Parse(forkServer.URL())
	if err != nil {
		t.Fatal(err)
	}
	recorder := &authRecorder{proxy: httputil.NewSingleHostReverseProxy(target)}
	fork := httptest.NewServer(recorder)
	t.Cleanup(fork.Close)

	cache, err := source.NewCache(source.Options{Dir: t.TempDir(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	secrets := func(_ context.Context, namespace, name string) (map[string][]byte, error) {
		return map[string][]byte{"username": []byte("ferry"), "password": []byte("s3cret-pw")}, nil
	}
	reader := NewEngineReader(engine.New(engine.Config{Source: cache, Applier: apply.NewApplier(stack.RestConfig("admin")), Secrets: secrets}),
		newScheme(), ReadOptions{Timeout: time.Minute})
	app := &gitops.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web", ResourceVersion: "1"},
		Spec: gitops.ApplicationSpec{
			Source:      gitops.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: "app", CredentialsRef: &gitops.LocalObjectReference{Name: "repo-creds"}},
			Destination: gitops.ApplicationDestination{Namespace: "default"},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	res, err := reader.Preview(ctx, app, PreviewRequest{Revision: "feature", RepoURL: fork.URL + "/web.git"})
	if err != nil {
		t.Fatalf("preview of the fork: %v", err)
	}
	if v := configMapValue(t, res.Objects, "preview-fork"); v != "fork" {
		t.Errorf("the fork's preview rendered %q, want fork", v)
	}
	seen := recorder.headers()
	if len(seen) == 0 {
		t.Fatal("the fork's server saw no request")
	}
	for _, h := range seen {
		if h != "" {
			t.Errorf("the fork's server was sent the Application's credentials: Authorization %q", h)
		}
	}
	if len(res.Items) != 1 || res.Items[0].Action != gitops.DiffCreate {
		t.Errorf("diff items %+v, want the ConfigMap to create", res.Items)
	}

	res, err = reader.Preview(ctx, app, PreviewRequest{Revision: "main", RepoURL: repo.URL()})
	if err != nil {
		t.Fatalf("preview naming the Application's own URL, which needs its credentials: %v", err)
	}
	if v := configMapValue(t, res.Objects, "preview-fork"); v != "origin" {
		t.Errorf("the origin's preview rendered %q, want origin", v)
	}

	_, err = reader.Preview(ctx, app, PreviewRequest{Revision: "main", As: &rest.ImpersonationConfig{UserName: "nobody"}})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `as user "nobody"`) {
		t.Errorf("a preview as a user who may not create ConfigMaps in default: want 403 naming them, got %v", err)
	}
}
