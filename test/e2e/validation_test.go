package e2e

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestInvalidApplicationsRefused: kubectl apply of an invalid Application fails, names the
// offending field, and stores nothing.
func TestInvalidApplicationsRefused(t *testing.T) {
	requireStack(t)
	ns := newNamespace(t, "invalid")
	cases := []struct {
		name  string
		edits map[string]any
		field string
	}{
		{"path-escapes-repository", map[string]any{"source.path": "../x"}, "spec.source.path"},
		{"path-absolute", map[string]any{"source.path": "/etc"}, "spec.source.path"},
		{"repourl-ftp", map[string]any{"source.repoURL": "ftp://x"}, "spec.source.repoURL"},
		{"repourl-missing", map[string]any{"source.repoURL": nil}, "spec.source.repoURL"},
		{"interval-too-short", map[string]any{"syncPolicy.interval": "1s"}, "spec.syncPolicy.interval"},
		{"serviceaccount-not-dns-label", map[string]any{"serviceAccountName": "Bad_Name"}, "spec.serviceAccountName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			manifest := appManifest(ns, tc.name, tc.edits)
			r := kubectlFails(t, Admin, manifest, "apply", "-f", "-")
			if !strings.Contains(r.Stderr, tc.field) {
				t.Errorf("the error does not name %s: %s\nstdin:\n%s", tc.field, r, manifest)
			}
			if !strings.Contains(r.Stderr, "Invalid value") && !strings.Contains(r.Stderr, "Required value") &&
				!strings.Contains(r.Stderr, "Unsupported value") {
				t.Errorf("the error is not a field validation error: %s", r)
			}
			assertNotFound(t, ns, tc.name)
		})
	}

	// file:// is accepted because hack/local-up.sh runs the server with --allow-file-repositories.
	t.Run("file-url-allowed-by-flag", func(t *testing.T) {
		kubectlStdin(t, Admin, appManifest(ns, "file-repo", map[string]any{"source.repoURL": "file:///srv/git/apps.git"}),
			"apply", "-f", "-")
	})
}

// TestInvalidUpdateChangesNothing: an invalid update is refused and the stored spec is unchanged.
func TestInvalidUpdateChangesNothing(t *testing.T) {
	requireStack(t)
	ns := newNamespace(t, "invalid-update")
	kubectlStdin(t, Admin, appManifest(ns, "app", nil), "apply", "-f", "-")
	before := ferryApp(t, ns, "app")

	r := kubectlFails(t, Admin, "", "patch", "application", "app", "-n", ns, "--type=merge",
		"-p", `{"spec":{"source":{"path":"../../etc","revision":"v9"}}}`)
	if !strings.Contains(r.Stderr, "spec.source.path") {
		t.Errorf("the error does not name spec.source.path: %s", r)
	}
	// The controller writes status and its finalizer meanwhile, so the resourceVersion may move;
	// the spec and its generation must not.
	after := ferryApp(t, ns, "app")
	if after.Generation != before.Generation || after.Spec.Source.Path != "guestbook" || after.Spec.Source.Revision != "main" {
		t.Errorf("a refused update changed the Application: generation %d -> %d, path %q, revision %q",
			before.Generation, after.Generation, after.Spec.Source.Path, after.Spec.Source.Revision)
	}
}

// TestDefaults: fields left out come back with their documented defaults.
func TestDefaults(t *testing.T) {
	requireStack(t)
	ns := newNamespace(t, "defaults")
	kubectlStdin(t, Admin, appManifest(ns, "defaulted", map[string]any{
		"source.revision": nil,
		"syncPolicy":      nil,
	}), "create", "-f", "-")

	if got := kubectl(t, "get", "application", "defaulted", "-n", ns, "-o", "jsonpath={.spec.source.revision}"); got != "HEAD" {
		t.Errorf(".spec.source.revision = %q, want HEAD", got)
	}
	if got := kubectl(t, "get", "application", "defaulted", "-n", ns, "-o", "jsonpath={.spec.syncPolicy.interval}"); got != "3m0s" {
		t.Errorf(".spec.syncPolicy.interval = %q, want 3m0s", got)
	}

	app := ferryApp(t, ns, "defaulted")
	if app.Spec.SyncPolicy.Interval == nil || app.Spec.SyncPolicy.Interval.Duration != 3*time.Minute {
		t.Errorf("typed client: interval = %v, want 3m", app.Spec.SyncPolicy.Interval)
	}
	if app.Spec.SyncPolicy.Automated != nil {
		t.Errorf("typed client: automated = %+v, want nil (manual sync is the default)", app.Spec.SyncPolicy.Automated)
	}
	if r := app.Spec.SyncPolicy.Retry; r == nil || r.Limit == nil || *r.Limit != 5 {
		t.Errorf("typed client: retry = %+v, want limit 5", r)
	}
}

func assertNotFound(t *testing.T, ns, name string) {
	t.Helper()
	r := requireStack(t).Run(Admin, "", "get", "application", name, "-n", ns)
	if r.Err == nil || !strings.Contains(r.Stderr, "NotFound") {
		t.Errorf("the refused Application was stored, or get failed otherwise: %s", r)
	}
}

func ferryApp(t *testing.T, ns, name string) *gitopsv1alpha1.Application {
	t.Helper()
	app, err := ferryClient(t, Admin).GitopsV1alpha1().Applications(ns).Get(ctxFor(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get application %s/%s with client-go: %v", ns, name, err)
	}
	return app
}
