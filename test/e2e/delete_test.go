package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// gone reports whether kubectl get args finds nothing.
func gone(s *Stack, args ...string) (bool, string) {
	r := s.Run(Admin, "", append([]string{"get"}, args...)...)
	return r.Err != nil && strings.Contains(r.Stderr, "NotFound"), r.String()
}

// TestDeletingATeamsNamespaceFinishes is the README's tenant setup torn down as a team would:
// a namespace, a ServiceAccount deployer with admin there, and an Application acting as
// deployer, synced. Its Git holds a ConfigMap in the namespace and a ClusterRole, which deployer
// may manage through a ClusterRoleBinding. kubectl delete namespace finishes within a minute,
// though the namespace's deletion removes deployer's RoleBinding and the ServiceAccount itself;
// the ClusterRole outside the namespace is pruned (deployer still may), or an Event names it.
func TestDeletingATeamsNamespaceFinishes(t *testing.T) {
	s := requireStack(t)
	team := newTenantNamespace(t, "team-del")
	kubectl(t, "create", "serviceaccount", "deployer", "-n", team)
	kubectl(t, "create", "rolebinding", "deployer", "--clusterrole=admin", "--serviceaccount="+team+":deployer", "-n", team)
	manager := "e2e-clusterroles-" + team
	kubectl(t, "create", "clusterrole", manager, "--verb=get,list,watch,create,update,patch,delete", "--resource=clusterroles")
	kubectl(t, "create", "clusterrolebinding", manager, "--clusterrole="+manager, "--serviceaccount="+team+":deployer")
	made := "e2e-made-by-" + team
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "clusterrolebinding", manager, "--ignore-not-found")
		s.Run(Admin, "", "delete", "clusterrole", manager, made, "--ignore-not-found")
	})

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("team-del")
	repo.Commit("main", map[string]string{
		"app/own.yaml":         configMapYAML("own", "v1"),
		"app/clusterrole.yaml": fmt.Sprintf("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: %s\nrules: []\n", made),
	}, "team")
	kubectlStdin(t, Admin, gitApp(team, "web", repo, "app", team, map[string]any{"serviceAccountName": "deployer"}), "create", "-f", "-")
	waitApp(t, team, "web", "synced", synced)
	if ok, r := gone(s, "clusterrole", made); ok {
		t.Fatalf("the Application did not create its ClusterRole: %s", r)
	}

	kubectl(t, "delete", "namespace", team, "--wait=false")
	eventually(t, 60*time.Second, "namespace "+team+" deleted", func() (bool, string) { return gone(s, "namespace", team) })
	eventually(t, 30*time.Second, "ClusterRole "+made+" pruned, or named in an Event", func() (bool, string) {
		if ok, r := gone(s, "clusterrole", made); ok {
			return true, r
		}
		r := s.Run(Admin, "", "get", "events", "-A", "--field-selector", "reason=LeftBehind,involvedObject.name="+made, "-o", "name")
		return r.Err == nil && strings.TrimSpace(r.Stdout) != "", r.String()
	})
}

// TestDeletingARefusedApplicationIsQuick: every object of the Application was refused
// (Forbidden), so it never created any; kubectl delete removes it within 10 seconds.
func TestDeletingARefusedApplicationIsQuick(t *testing.T) {
	s := requireStack(t)
	team := newTenantNamespace(t, "refused")
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("refused")
	repo.Commit("main", map[string]string{
		"app/kube-system.yaml": namespacedConfigMap("kube-system", "planted-"+team),
		"app/own.yaml":         configMapYAML("own", "v1"),
	}, "refused")
	kubectlStdin(t, Admin, gitApp(team, "refused", repo, "app", team, nil), "create", "-f", "-")
	waitApp(t, team, "refused", "refused as Forbidden", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/Forbidden") && len(a.Finalizers) > 0
	})

	kubectl(t, "delete", "application", "refused", "-n", team, "--wait=false")
	eventually(t, 10*time.Second, "the refused Application deleted", func() (bool, string) {
		return gone(s, "application", "refused", "-n", team)
	})
}

// TestDeletingAnApplicationWhoseGitServerIsDown: deleting needs no repository: with its Git
// server answering 503 to everything, the Application is deleted within 10 seconds and its
// objects are pruned.
func TestDeletingAnApplicationWhoseGitServerIsDown(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "gitdown")
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("gitdown")
	repo.Commit("main", map[string]string{"app/one.yaml": configMapYAML("one", "v1"), "app/two.yaml": configMapYAML("two", "v1")}, "c1")
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, nil), "create", "-f", "-")
	waitApp(t, ns, "web", "synced", synced)

	srv.SetDown(true)
	kubectl(t, "delete", "application", "web", "-n", ns, "--wait=false")
	eventually(t, 10*time.Second, "the Application deleted with its Git server down", func() (bool, string) {
		return gone(s, "application", "web", "-n", ns)
	})
	for _, name := range []string{"one", "two"} {
		if ok, r := gone(s, "configmap", name, "-n", ns); !ok {
			t.Errorf("ConfigMap %s survived its Application: %s", name, r)
		}
	}
}

// TestDeletingWithCascadeOrphanKeepsTheObjects: kubectl delete --cascade=orphan deletes the
// Application and leaves what it deployed, as it does for any Kubernetes object.
func TestDeletingWithCascadeOrphanKeepsTheObjects(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "orphan")
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("orphan")
	repo.Commit("main", map[string]string{"app/kept.yaml": configMapYAML("kept", "v1")}, "c1")
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, nil), "create", "-f", "-")
	waitApp(t, ns, "web", "synced", synced)

	kubectl(t, "delete", "application", "web", "-n", ns, "--cascade=orphan", "--wait=false")
	eventually(t, 30*time.Second, "the Application deleted", func() (bool, string) {
		return gone(s, "application", "web", "-n", ns)
	})
	if v, ok := configMapValue(t, ns, "kept"); !ok || v != "v1" {
		t.Errorf("after kubectl delete --cascade=orphan: ConfigMap kept exists=%v value %q, want v1", ok, v)
	}
}
