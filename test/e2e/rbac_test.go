package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestRBAC checks what the token users may do once bound to Ferry's roles in one namespace:
// viewer -> ferry-view, editor -> ferry-edit, other -> the built-in admin role (which gets Ferry's
// rules by aggregation), nobody -> nothing. No user may write applications/status.
func TestRBAC(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "rbac")
	kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=ferry-view", "--user=viewer", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=ferry-edit", "--user=editor", "-n", ns)
	// ferry-edit writes Applications; acting as the namespace's default ServiceAccount, which
	// Applications naming none act as, is a right of its own.
	kubectl(t, "create", "role", "act-as-default", "--verb=impersonate", "--resource=serviceaccounts", "--resource-name=default", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor-acts-as-default", "--role=act-as-default", "--user=editor", "-n", ns)
	kubectl(t, "create", "rolebinding", "other", "--clusterrole=admin", "--user=other", "-n", ns)

	// The operation must still be pending when the second sync arrives: the repository is a
	// server on 127.0.0.1 that accepts connections and never answers, so a controller that
	// starts fetching stays Running instead of finishing.
	repoURL := hangingGitServer(t)
	manual := map[string]any{"syncPolicy": nil, "source.repoURL": repoURL}

	// RBAC caches follow the new bindings within moments; wait for them rather than sleeping.
	eventually(t, 30*time.Second, "editor may create applications", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "-n", ns, "--as=editor")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})
	// The built-in admin role gets Ferry's rules from kube-controller-manager's aggregation.
	eventually(t, 60*time.Second, "the admin ClusterRole aggregates ferry-edit", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "-n", ns, "--as=other")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})

	kubectlStdin(t, "editor", appManifest(ns, "shop", manual), "apply", "-f", "-")

	t.Run("viewer", func(t *testing.T) {
		out := kubectlAs(t, "viewer", "get", "applications", "-n", ns)
		headerAndRow(t, out, "shop")
		kubectlAs(t, "viewer", "get", "application", "shop", "-n", ns, "-o", "yaml")

		r := kubectlFails(t, "viewer", appManifest(ns, "viewer-app", manual), "create", "-f", "-")
		assertForbidden(t, r, "create applications")
		assertNotFound(t, ns, "viewer-app")

		r = kubectlFails(t, "viewer", "", "create", "--raw", syncPath(ns, "shop"), "-f", syncBody(t, "shop"))
		assertForbidden(t, r, "create applications/sync")

		r = kubectlFails(t, "viewer", "", "delete", "application", "shop", "-n", ns)
		assertForbidden(t, r, "delete applications")
	})

	t.Run("nobody", func(t *testing.T) {
		r := kubectlFails(t, "nobody", "", "get", "applications", "-n", ns)
		assertForbidden(t, r, "list applications")
		r = kubectlFails(t, "nobody", "", "get", "application", "shop", "-n", ns)
		assertForbidden(t, r, "get applications")
	})

	t.Run("can-i", func(t *testing.T) {
		for _, tc := range []struct {
			user, verb, resource, sub, want string
		}{
			{"editor", "create", "applications", "sync", "yes"},
			{"viewer", "create", "applications", "sync", "no"},
			{"viewer", "get", "applications", "", "yes"},
			{"editor", "patch", "applications", "status", "no"},
			{"editor", "update", "applications", "status", "no"},
			{"other", "patch", "applications", "status", "no"},
			{"other", "create", "applications", "sync", "yes"},
		} {
			args := []string{"auth", "can-i", tc.verb, tc.resource + ".gitops.ferry.dev", "-n", ns}
			if tc.sub != "" {
				args = append(args, "--subresource="+tc.sub)
			}
			// Asked with the user's own credentials, and by admin impersonating the user.
			for _, asAdmin := range []bool{false, true} {
				user, a := tc.user, args
				if asAdmin {
					user, a = Admin, append(append([]string{}, args...), "--as="+tc.user)
				}
				r := s.Run(user, "", a...)
				if got := strings.TrimSpace(r.Stdout); got != tc.want {
					t.Errorf("%s may %s %s/%s: got %q, want %q\n%s", tc.user, tc.verb, tc.resource, tc.sub, got, tc.want, r)
				}
			}
		}
	})

	t.Run("editor syncs", func(t *testing.T) {
		out := kubectlAs(t, "editor", "create", "--raw", syncPath(ns, "shop"), "-f", syncBody(t, "shop"))
		var resp gitopsv1alpha1.ApplicationSync
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("the sync response is not an ApplicationSync: %v\n%s", err, out)
		}
		if resp.Kind != "ApplicationSync" || resp.Status.OperationID == "" {
			t.Fatalf("sync response kind %q operationID %q, want ApplicationSync with an operation id:\n%s",
				resp.Kind, resp.Status.OperationID, out)
		}

		app := ferryApp(t, ns, "shop")
		op := app.Status.Operation
		if op == nil {
			t.Fatalf("status.operation is empty after a sync was accepted")
		}
		if op.ID != resp.Status.OperationID {
			t.Errorf("status.operation.id = %q, the sync response said %q", op.ID, resp.Status.OperationID)
		}
		if op.RequestedBy.Username != "editor" {
			t.Errorf("status.operation.requestedBy.username = %q, want editor (from the authenticated request)", op.RequestedBy.Username)
		}
		if !op.Prune {
			t.Errorf("status.operation.prune = false, the request asked for prune")
		}
		if got := kubectlAs(t, "editor", "get", "application", "shop", "-n", ns, "-o", "jsonpath={.status.operation.requestedBy.username}"); got != "editor" {
			t.Errorf("kubectl jsonpath .status.operation.requestedBy.username = %q, want editor", got)
		}

		// A second sync while the first has not finished is a conflict.
		if op.Phase != gitopsv1alpha1.OperationPending && op.Phase != gitopsv1alpha1.OperationRunning {
			t.Fatalf("the first operation is already %s (%s) although its repository never answers", op.Phase, op.Message)
		}
		_, err := ferryClient(t, "editor").GitopsV1alpha1().Applications(ns).Sync(ctxFor(t), "shop",
			&gitopsv1alpha1.ApplicationSync{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{})
		if !apierrors.IsConflict(err) {
			t.Errorf("second sync while %s: err = %v, want 409 Conflict", op.Phase, err)
		}
		r := kubectlFails(t, "editor", "", "create", "--raw", syncPath(ns, "shop"), "-f", syncBody(t, "shop"))
		if !strings.Contains(r.Stderr, "Conflict") {
			t.Errorf("second sync with kubectl: want Conflict: %s", r)
		}
		if got := ferryApp(t, ns, "shop").Status.Operation; got == nil || got.ID != op.ID {
			t.Errorf("the refused sync replaced the operation: %+v", got)
		}
	})

	t.Run("no user writes status", func(t *testing.T) {
		patch := `{"status":{"sync":{"status":"Synced"},"health":{"status":"Healthy"}}}`
		for _, user := range []string{"editor", "viewer", "other", "nobody"} {
			r := kubectlFails(t, user, "", "patch", "application", "shop", "-n", ns,
				"--subresource=status", "--type=merge", "-p", patch)
			assertForbidden(t, r, "patch applications/status as "+user)
		}
		if got := ferryApp(t, ns, "shop").Status.Sync.Status; got == gitopsv1alpha1.SyncStatusSynced {
			t.Errorf("status.sync.status became Synced: a forbidden status patch went through")
		}
	})

	t.Run("editor deletes", func(t *testing.T) {
		kubectlStdin(t, "editor", appManifest(ns, "temp", manual), "create", "-f", "-")
		kubectlAs(t, "editor", "delete", "application", "temp", "-n", ns, "--wait=false")
	})
}

func syncPath(ns, name string) string {
	return fmt.Sprintf("/apis/gitops.ferry.dev/v1alpha1/namespaces/%s/applications/%s/sync", ns, name)
}

// syncBody writes the body of a sync request for name to a file and returns its path.
func syncBody(t *testing.T, name string) string {
	t.Helper()
	body := fmt.Sprintf(`{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync","metadata":{"name":%q},"spec":{"prune":true}}`, name)
	path := filepath.Join(t.TempDir(), "sync.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func assertForbidden(t *testing.T, r Result, what string) {
	t.Helper()
	if !strings.Contains(r.Stderr, "Forbidden") && !strings.Contains(r.Stderr, "forbidden") {
		t.Errorf("%s: want Forbidden: %s", what, r)
	}
}

// hangingGitServer listens on 127.0.0.1, accepts connections and never answers; it returns a
// repository URL on it.
func hangingGitServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String() + "/hangs.git"
}

// TestReadSubresourcesRBAC is the permission matrix of the read subresources with token users,
// through kube-apiserver and kubectl get --raw: ferry-view and ferry-edit grant get on each,
// get applications alone grants none of them, nobody gets nothing. A refused user learns
// nothing of the object: the response is Forbidden, not the data or a 404.
func TestReadSubresourcesRBAC(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("rbac-reads")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("rbac-reads", "v1")}, "c1")
	ns := newNamespace(t, "rbac-reads")
	kubectlStdin(t, Admin, gitApp(ns, "app", repo, "app", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "app", "synced", synced)

	kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=ferry-view", "--user=viewer", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=ferry-edit", "--user=editor", "-n", ns)
	kubectl(t, "create", "role", "get-only", "-n", ns, "--verb=get,list,watch", "--resource=applications.gitops.ferry.dev")
	kubectl(t, "create", "rolebinding", "get-only", "--role=get-only", "--user=other", "-n", ns)
	for _, user := range []string{"viewer", "editor", "other"} {
		eventually(t, 30*time.Second, user+"'s binding is in effect", func() (bool, string) {
			r := s.Run(Admin, "", "auth", "can-i", "get", "applications.gitops.ferry.dev", "-n", ns, "--as="+user)
			return strings.TrimSpace(r.Stdout) == "yes", r.String()
		})
	}

	kinds := map[string]string{"diff": "ApplicationDiff", "health": "ApplicationHealth", "manifests": "ApplicationManifests"}
	allowed := map[string]bool{"viewer": true, "editor": true, "other": false, "nobody": false}
	for sub, kind := range kinds {
		path := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/app/" + sub
		for user, may := range allowed {
			t.Run(sub+"/"+user, func(t *testing.T) {
				// kubectl auth can-i answers the same as the request itself.
				want := map[bool]string{true: "yes", false: "no"}[may]
				r := s.Run(user, "", "auth", "can-i", "get", "applications.gitops.ferry.dev", "--subresource="+sub, "-n", ns)
				if got := strings.TrimSpace(r.Stdout); got != want {
					t.Errorf("auth can-i get applications/%s as %s: %q, want %q\n%s", sub, user, got, want, r)
				}
				if !may {
					r := kubectlFails(t, user, "", "get", "--raw", path)
					assertForbidden(t, r, "get applications/"+sub+" as "+user)
					if strings.Contains(r.Stdout, "rbac-reads") {
						t.Errorf("a refused request returned the data:\n%s", r.Stdout)
					}
					return
				}
				var obj metav1.TypeMeta
				out := kubectlAs(t, user, "get", "--raw", path)
				if err := json.Unmarshal([]byte(out), &obj); err != nil || obj.Kind != kind {
					t.Errorf("get applications/%s as %s: kind %q (%v), want %s:\n%s", sub, user, obj.Kind, err, kind, out)
				}
				if !strings.Contains(out, "rbac-reads") {
					t.Errorf("get applications/%s as %s does not name the managed ConfigMap:\n%s", sub, user, out)
				}
			})
		}
	}
}
