package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// namespacedConfigMap is a ConfigMap manifest in a given namespace.
func namespacedConfigMap(ns, name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  value: planted\n", name, ns)
}

// TestATenantCannotDeployBeyondItsServiceAccount is the escalation a new user would try: with the
// built-in edit role in their team's namespace only, they create an Application naming no
// ServiceAccount whose Git path holds a ClusterRoleBinding to cluster-admin, a ConfigMap in
// kube-system and one in another team's namespace. The Application acts as the team namespace's
// default ServiceAccount, which may manage that namespace only: nothing is created, the
// condition names the identity and the refused object, and the user the binding names stays
// powerless. The same repository as an Application of an admin in ferry-system deploys.
func TestATenantCannotDeployBeyondItsServiceAccount(t *testing.T) {
	s := requireStack(t)
	team := newTenantNamespace(t, "team-a")
	other := newTenantNamespace(t, "team-b")
	kubectl(t, "create", "rolebinding", "deployer", "--clusterrole=admin", "--serviceaccount="+team+":default", "-n", team)
	kubectl(t, "create", "rolebinding", "devs", "--clusterrole=edit", "--user=other", "-n", team)
	eventually(t, 60*time.Second, "other may create applications in "+team, func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "-n", team, "--as=other")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})

	escalator := "escalator-" + team
	binding := "take-over-" + team
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("escalate")
	repo.Commit("main", map[string]string{
		"app/crb.yaml": fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: %s
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: %s
`, binding, escalator),
		"app/kube-system.yaml": namespacedConfigMap("kube-system", "planted-"+team),
		"app/team-b.yaml":      namespacedConfigMap(other, "planted"),
		"app/own.yaml":         configMapYAML("own", "v1"),
	}, "escalate")
	t.Cleanup(func() { s.Run(Admin, "", "delete", "clusterrolebinding", binding, "--ignore-not-found") })
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "configmap", "planted-"+team, "-n", "kube-system", "--ignore-not-found")
	})

	kubectlStdin(t, "other", gitApp(team, "escalate", repo, "app", team, nil), "create", "-f", "-")
	app := waitApp(t, team, "escalate", "refused as Forbidden", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/Forbidden")
	})
	ready := condition(app, "Ready")
	for _, want := range []string{`system:serviceaccount:` + team + `:default`, "grant the Application's ServiceAccount"} {
		if !strings.Contains(ready, want) {
			t.Errorf("the Ready condition does not say %q: %s", want, ready)
		}
	}
	for _, args := range [][]string{
		{"get", "clusterrolebinding", binding},
		{"get", "configmap", "planted-" + team, "-n", "kube-system"},
		{"get", "configmap", "planted", "-n", other},
		{"get", "configmap", "own", "-n", team}, // the dry run of the whole set failed: nothing is applied
	} {
		if r := s.Run(Admin, "", args...); r.Err == nil {
			t.Errorf("kubectl %s: exists, created by a tenant's Application", strings.Join(args, " "))
		}
	}
	if r := s.Run(Admin, "", "auth", "can-i", "*", "*", "-A", "--as="+escalator); strings.TrimSpace(r.Stdout) != "no" {
		t.Errorf("kubectl auth can-i '*' '*' -A --as %s: %s, want no", escalator, r)
	}

	// The platform admin's Application in ferry-system acts as Ferry and deploys all of it.
	kubectlStdin(t, Admin, gitApp("ferry-system", "platform-"+team, repo, "app", team, nil), "create", "-f", "-")
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "application", "platform-"+team, "-n", "ferry-system", "--wait=false")
	})
	waitApp(t, "ferry-system", "platform-"+team, "synced", synced)
	if r := s.Run(Admin, "", "auth", "can-i", "*", "*", "-A", "--as="+escalator); strings.TrimSpace(r.Stdout) != "yes" {
		t.Errorf("after the privileged Application: kubectl auth can-i '*' '*' -A --as %s: %s, want yes", escalator, r)
	}
}

// TestReadsActAsTheApplicationsServiceAccount: /diff dry-runs and reads as the Application's
// ServiceAccount, so a viewer cannot read, through an Application whose Git names it, an object
// that ServiceAccount may not read; /health reads as it too.
func TestReadsActAsTheApplicationsServiceAccount(t *testing.T) {
	s := requireStack(t)
	team := newTenantNamespace(t, "reads")
	kubectl(t, "create", "rolebinding", "deployer", "--clusterrole=admin", "--serviceaccount="+team+":default", "-n", team)
	kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=ferry-view", "--user=viewer", "-n", team)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("reads")
	repo.Commit("main", map[string]string{"app/own.yaml": configMapYAML("own", "v1")}, "own")
	// Applied by admin, with Ferry's delegated-authentication ConfigMap named in Git for later.
	kubectlStdin(t, Admin, gitApp(team, "reader", repo, "app", team, nil), "create", "-f", "-")
	waitApp(t, team, "reader", "synced", synced)

	diffPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + team + "/applications/reader/diff"
	repo.Commit("main", map[string]string{"app/peek.yaml": namespacedConfigMap("kube-system", "extension-apiserver-authentication")}, "peek")
	r := s.Run("viewer", "", "get", "--raw", diffPath+"?revision=main")
	if strings.Contains(r.Stdout, "requestheader-client-ca-file") || strings.Contains(r.Stderr, "requestheader-client-ca-file") {
		t.Errorf("/diff showed kube-system's live ConfigMap to a viewer through a tenant's Application:\n%s", r)
	}
	if !strings.Contains(r.Stdout+r.Stderr, "system:serviceaccount:"+team+":default") {
		t.Errorf("/diff of an object the ServiceAccount may not touch does not name the ServiceAccount:\n%s", r)
	}

	// The ServiceAccount loses its rights: /health no longer reads the object it deployed.
	kubectl(t, "delete", "rolebinding", "deployer", "-n", team)
	healthPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + team + "/applications/reader/health"
	eventually(t, 30*time.Second, "/health reads as the ServiceAccount", func() (bool, string) {
		r := s.Run("viewer", "", "get", "--raw", healthPath)
		return strings.Contains(r.Stdout, "forbidden") && strings.Contains(r.Stdout, "Unknown"), r.String()
	})
}

// TestAnotherTenantCannotReadAPrivateRepositoryThroughTheCache: team A's Application fetches a
// commit of its private repository into Ferry's shared Git cache. Team B names the same
// repository at that commit, with no credentials: an authentication error and no content,
// through a sync, /manifests and /diff.
func TestAnotherTenantCannotReadAPrivateRepositoryThroughTheCache(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("team-a-private")
	sha := repo.Commit("main", map[string]string{"app/plan.yaml": configMapYAML("launch-plan", "top secret")}, "c")
	srv.RequireBasicAuth("team-a", "s3cret-pw")

	teamA := newNamespace(t, "cache-a")
	kubectl(t, "create", "secret", "generic", "repo-creds", "-n", teamA, "--from-literal=username=team-a", "--from-literal=password=s3cret-pw")
	kubectlStdin(t, Admin, gitApp(teamA, "private", repo, "app", teamA, map[string]any{
		"source.credentialsRef": map[string]any{"name": "repo-creds"},
	}), "apply", "-f", "-")
	waitApp(t, teamA, "private", "synced with its credentials", synced)

	teamB := newNamespace(t, "cache-b")
	kubectlStdin(t, Admin, gitApp(teamB, "peek", repo, "app", teamB, map[string]any{"source.revision": sha}), "apply", "-f", "-")
	app := waitApp(t, teamB, "peek", "refused by Git", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/GitOperationFailed")
	})
	if msg := condition(app, "Ready"); !strings.Contains(msg, "authentication required") {
		t.Errorf("team B's Ready condition: %s, want authentication required", msg)
	}
	if r := s.Run(Admin, "", "get", "configmap", "launch-plan", "-n", teamB); r.Err == nil {
		t.Error("team B's Application deployed team A's private manifests")
	}
	for _, sub := range []string{"manifests", "diff"} {
		r := s.Run(Admin, "", "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+teamB+"/applications/peek/"+sub+"?revision="+sha)
		if r.Err == nil || strings.Contains(r.Stdout+r.Stderr, "top secret") {
			t.Errorf("team B's /%s at team A's commit: want an error and no content, got %s", sub, r)
		}
	}
}

// TestTwoApplicationsClaimingOneObject: the second Application whose Git names an object the
// first manages leaves it alone and says so (SharedResource, naming the first), applies the
// rest, and does not prune it when it leaves its Git.
func TestTwoApplicationsClaimingOneObject(t *testing.T) {
	requireStack(t)
	ns := newNamespace(t, "claim")
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("claim")
	repo.Commit("main", map[string]string{
		"a/cm.yaml":  configMapYAML("claimed", "from-a"),
		"b/cm.yaml":  configMapYAML("claimed", "from-b"),
		"b/own.yaml": configMapYAML("own-b", "b"),
	}, "c1")
	kubectlStdin(t, Admin, gitApp(ns, "first", repo, "a", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "first", "synced", synced)

	kubectlStdin(t, Admin, gitApp(ns, "second", repo, "b", ns, nil), "apply", "-f", "-")
	app := waitApp(t, ns, "second", "reports the shared object", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Synced"), "False/SharedResource")
	})
	if msg := condition(app, "Synced"); !strings.Contains(msg, "ConfigMap/claimed is managed by Application "+ns+"/first") {
		t.Errorf("the Synced condition does not name the owner: %s", msg)
	}
	for _, r := range app.Status.Resources {
		if r.Name == "claimed" && r.Status != gitopsv1alpha1.SyncStatusSharedResource {
			t.Errorf("status.resources: claimed is %s, want SharedResource", r.Status)
		}
	}
	if v, _ := configMapValue(t, ns, "claimed"); v != "from-a" {
		t.Errorf("the second Application changed the first's object to %q", v)
	}
	if v, _ := configMapValue(t, ns, "own-b"); v != "b" {
		t.Errorf("the rest of the second Application's set: own-b = %q", v)
	}

	// It leaves the second's Git; the second prunes, and the first's object stays.
	sha := repo.Commit("main", map[string]string{"b/cm.yaml": ""}, "c2")
	waitApp(t, ns, "second", "synced without the claimed object", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == sha
	})
	if v, _ := configMapValue(t, ns, "claimed"); v != "from-a" {
		t.Errorf("after the second Application's prune the first's object is %q", v)
	}
}
