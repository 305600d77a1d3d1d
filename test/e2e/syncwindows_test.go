package e2e

import (
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// denyWindowYAML is a deny SyncWindow of every Application of ns, in force whenever the test
// runs: it opens every minute and lasts an hour.
func denyWindowYAML(ns, name string) string {
	return `apiVersion: gitops.ferry.dev/v1alpha1
kind: SyncWindow
metadata:
  name: ` + name + `
  namespace: ` + ns + `
spec:
  kind: deny
  schedule: "* * * * *"
  duration: 1h
  selector: {}
`
}

// TestSyncWindows: a deny window in force refuses kubectl ferry sync with 409 naming the window,
// holds an automated Application at the old commit while a new one is pushed (SyncWindow True,
// OutOfSync, the cluster unchanged), and the commit is applied as soon as the window is deleted.
// Overriding the window takes the verb override on syncwindows: an editor without it gets 403,
// a user granted it syncs through the window.
func TestSyncWindows(t *testing.T) {
	s := requireStack(t)
	p := buildPlugin(t, s)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("windows")
	v1 := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("window-settings", "v1")}, "v1")
	ns := newNamespace(t, "windows")
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, map[string]any{"syncPolicy.automated": map[string]any{"prune": true}}), "apply", "-f", "-")
	waitApp(t, ns, "web", "synced at v1", func(a *gitopsv1alpha1.Application) bool { return synced(a) && a.Status.Sync.Revision == v1 })

	// editor: ferry-edit, which writes SyncWindows and syncs. other: the same, and override.
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=ferry-edit", "--user=editor", "-n", ns)
	kubectl(t, "create", "rolebinding", "other", "--clusterrole=ferry-edit", "--user=other", "-n", ns)
	kubectlStdin(t, Admin, `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: break-freeze, namespace: `+ns+`}
rules:
- apiGroups: [gitops.ferry.dev]
  resources: [syncwindows]
  verbs: [override]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: break-freeze, namespace: `+ns+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: break-freeze}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: other}]
`, "apply", "-f", "-")
	eventually(t, syncTimeout, "editor may create SyncWindows", func() (bool, string) {
		r := s.Run("editor", denyWindowYAML(ns, "freeze"), "apply", "-f", "-")
		return r.Err == nil, r.String()
	})

	r := p.expect(t, 1, "editor", "sync", "web", "-n", ns)
	for _, want := range []string{"sync refused: deny window " + ns + "/freeze is in force, with no end in sight", "kubectl get syncwindows -n " + ns} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the refused sync does not say %q: %s", want, r)
		}
	}
	if app := getApp(t, ns, "web"); app.Status.Operation != nil {
		t.Errorf("a refused sync recorded operation %+v", app.Status.Operation)
	}

	v2 := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("window-settings", "v2")}, "v2")
	app := waitApp(t, ns, "web", "v2 seen and held by the window", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == v2 && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync && a.Status.Sync.Revision == v1 &&
			strings.HasPrefix(condition(a, gitopsv1alpha1.ConditionSyncWindow), "True/DenyWindow: deny window "+ns+"/freeze is in force")
	})
	if v, _ := configMapValue(t, ns, "window-settings"); v != "v1" {
		t.Errorf("during the freeze the ConfigMap holds %q, want v1 (%s)", v, describeApp(app))
	}
	r = p.expect(t, 0, "editor", "status", "web", "-n", ns)
	wantLines(t, r, "Sync window: blocked: deny window "+ns+"/freeze is in force")

	r = p.expect(t, 2, "editor", "sync", "web", "-n", ns, "--override-sync-windows")
	for _, want := range []string{"Forbidden", `"editor" may not override sync windows`, "override syncwindows.gitops.ferry.dev"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("the refused override does not say %q: %s", want, r)
		}
	}

	// Deleting the window lets the held commit go out, without waiting for anything else.
	kubectlAs(t, "editor", "delete", "syncwindow", "freeze", "-n", ns)
	waitApp(t, ns, "web", "v2 applied once the window is gone", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == v2 && condition(a, gitopsv1alpha1.ConditionSyncWindow) == "<none>"
	})
	if v, _ := configMapValue(t, ns, "window-settings"); v != "v2" {
		t.Errorf("after the window the ConfigMap holds %q, want v2", v)
	}

	// A new freeze, a new commit: only the user granted override gets it out now.
	kubectlStdin(t, "editor", denyWindowYAML(ns, "freeze"), "apply", "-f", "-")
	v3 := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("window-settings", "v3")}, "v3")
	waitApp(t, ns, "web", "v3 held", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == v3 && a.Status.Sync.Revision == v2 && strings.HasPrefix(condition(a, gitopsv1alpha1.ConditionSyncWindow), "True/DenyWindow")
	})
	r = p.expect(t, 0, "other", "sync", "web", "-n", ns, "--override-sync-windows", "--wait", "--timeout", "2m")
	wantLines(t, r, "Succeeded")
	app = getApp(t, ns, "web")
	if app.Status.Sync.Revision != v3 || app.Status.Operation == nil || app.Status.Operation.RequestedBy.Username != "other" {
		t.Errorf("after the override: %s, operation %+v; want synced at v3 by other", describeApp(app), app.Status.Operation)
	}
	if v, _ := configMapValue(t, ns, "window-settings"); v != "v3" {
		t.Errorf("after the override the ConfigMap holds %q, want v3", v)
	}
}
