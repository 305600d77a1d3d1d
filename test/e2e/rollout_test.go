package e2e

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// appEvents records every change of the Applications of a namespace, in the order the API
// server's watch delivers them: the order of their etcd revisions.
type appEvents struct {
	mu   sync.Mutex
	seen []*gitopsv1alpha1.Application
}

func watchApps(t *testing.T, ns string) *appEvents {
	t.Helper()
	w, err := ferryClient(t, Admin).GitopsV1alpha1().Applications(ns).Watch(ctxFor(t), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watching the Applications of %s: %v", ns, err)
	}
	t.Cleanup(w.Stop)
	rec := &appEvents{}
	go func() {
		for ev := range w.ResultChan() {
			if app, ok := ev.Object.(*gitopsv1alpha1.Application); ok && ev.Type != watch.Deleted {
				rec.mu.Lock()
				rec.seen = append(rec.seen, app)
				rec.mu.Unlock()
			}
		}
	}()
	return rec
}

// first is the resourceVersion (an etcd revision) of the first change of Application name that
// satisfies cond, or 0 when none did.
func (r *appEvents) first(name string, cond func(*gitopsv1alpha1.Application) bool) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.seen {
		if a.Name == name && cond(a) {
			rv, _ := strconv.ParseInt(a.ResourceVersion, 10, 64)
			return rv
		}
	}
	return 0
}

// readyAt: the Application deploys path and its controller reports it Synced and Healthy there.
func readyAt(path string) func(*gitopsv1alpha1.Application) bool {
	return func(a *gitopsv1alpha1.Application) bool {
		return a.Spec.Source.Path == path && a.Status.ObservedGeneration == a.Generation &&
			a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
	}
}

func deploys(path string) func(*gitopsv1alpha1.Application) bool {
	return func(a *gitopsv1alpha1.Application) bool { return a.Spec.Source.Path == path }
}

// rolledOut: the set has generated from its current spec and every step is done.
func rolledOut(set *gitopsv1alpha1.ApplicationSet) bool {
	c := meta.FindStatusCondition(set.Status.Conditions, "RolledOut")
	return c != nil && c.ObservedGeneration == set.Generation && c.Status == metav1.ConditionTrue
}

// TestARollingSyncReachesProductionOnlyAfterStaging: an ApplicationSet over the two local
// clusters rolls out in two steps, staging (the cluster Ferry runs in) then production (the
// second control plane), automated sync on throughout. On creation and on a change of its
// template, production's Application takes the change only after staging's is Synced and
// Healthy at it, by the etcd revisions of the watch. A change that leaves staging Degraded stops
// the rollout: the set names the Application and production keeps what it had.
func TestARollingSyncReachesProductionOnlyAfterStaging(t *testing.T) {
	s := requireStack(t)
	r := remoteStack(t)
	p := buildPlugin(t, s)
	id := fmt.Sprintf("%05d", rand.IntN(100000))
	staging, production := "rs-staging-"+id, "rs-production-"+id
	registerSelf(t, staging, map[string]string{"rollout": id, "env": "staging"})
	registerCluster(t, r, production, map[string]string{"rollout": id, "env": "production"})

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("rollout")
	repo.Commit("main", map[string]string{
		"v1/settings.yaml": configMapYAML("guestbook", "v1"),
		"v2/settings.yaml": configMapYAML("guestbook", "v2"),
		"v3/settings.yaml": configMapYAML("guestbook", "v3"),
		"v3/migrate.yaml":  failingJobYAML("guestbook-migrate"),
	}, "three versions")
	ns := newTenantNamespace(t, "rollout")
	deployer := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-rollout-%[1]s}
rules:
- apiGroups: [""]
  resources: [namespaces, configmaps]
  verbs: ["*"]
- apiGroups: [batch]
  resources: [jobs]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-rollout-%[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-rollout-%[1]s}
subjects: [{kind: ServiceAccount, name: default, namespace: %[2]s}]
`, id, ns)
	kubectlStdin(t, Admin, deployer, "apply", "-f", "-")
	role := "use-rollout-" + id
	createUseRole(t, role, staging, production)
	kubectl(t, "create", "clusterrolebinding", role, "--clusterrole="+role, "--serviceaccount="+ns+":default")
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "clusterrole,clusterrolebinding", "e2e-rollout-"+id, role, "--ignore-not-found")
	})
	mustRemoteKubectl(t, r, "create", "clusterrolebinding", "e2e-"+ns, "--clusterrole=cluster-admin", "--user=system:serviceaccount:"+ns+":default")

	events := watchApps(t, ns)
	set := fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
  namespace: %[1]s
spec:
  generators:
  - clusters:
      selector:
        matchLabels: {rollout: "%[2]s"}
  strategy:
    rollingSync:
      steps:
      - name: staging
        selector: {matchLabels: {env: staging}}
      - name: production
        selector: {matchLabels: {env: production}}
  template:
    metadata:
      name: 'guestbook-{{.metadata.labels.env}}'
      labels: {env: '{{.metadata.labels.env}}'}
    spec:
      source: {repoURL: %[3]s, path: v1, revision: main}
      destination: {cluster: '{{.name}}', namespace: '%[1]s-{{.metadata.labels.env}}'}
      syncPolicy:
        automated: {prune: true}
        createNamespace: true
`, ns, id, repo.URL())
	kubectlStdin(t, Admin, set, "apply", "-f", "-")
	waitAppSet(t, ns, "guestbook", "rolled out to both steps", rolledOut)
	before := func(what string, path string) {
		t.Helper()
		ready := events.first("guestbook-staging", readyAt(path))
		started := events.first("guestbook-production", deploys(path))
		if ready == 0 || started == 0 || started < ready {
			t.Errorf("%s: production took %s at etcd revision %d, staging was Synced and Healthy there at %d; want staging first", what, path, started, ready)
		}
	}
	before("creation", "v1")
	app := getApp(t, ns, "guestbook-staging")
	if rev := app.Spec.Source.Revision; len(rev) != 40 {
		t.Errorf("the generated Application's revision %q: want main named by its commit", rev)
	}
	if !app.Spec.SyncPolicy.Automated.Prune {
		t.Errorf("automated sync of the generated Application: %+v", app.Spec.SyncPolicy)
	}

	kubectl(t, "patch", "applicationset", "guestbook", "-n", ns, "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/source/path","value":"v2"}]`)
	waitAppSet(t, ns, "guestbook", "rolled out v2 to both steps", rolledOut)
	before("a change of the template", "v2")
	if v := mustRemoteKubectl(t, r, "get", "configmap", "guestbook", "-n", ns+"-production", "-o", "jsonpath={.data.value}"); v != "v2" {
		t.Errorf("production's guestbook after the rollout: %q", v)
	}

	// v3 has staging run a migration that fails: the rollout stops before production.
	kubectl(t, "patch", "applicationset", "guestbook", "-n", ns, "--type=json", "-p", `[{"op":"replace","path":"/spec/template/spec/source/path","value":"v3"}]`)
	stopped := waitAppSet(t, ns, "guestbook", "the rollout stopped at a Degraded staging", func(set *gitopsv1alpha1.ApplicationSet) bool {
		c := meta.FindStatusCondition(set.Status.Conditions, "RolledOut")
		return c != nil && c.ObservedGeneration == set.Generation && c.Reason == "Degraded"
	})
	if c := meta.FindStatusCondition(stopped.Status.Conditions, "RolledOut"); !strings.Contains(c.Message, "Application guestbook-staging Degraded") {
		t.Errorf("the RolledOut condition does not name the Degraded Application: %q", c.Message)
	}
	if got := getApp(t, ns, "guestbook-production").Spec.Source.Path; got != "v2" {
		t.Errorf("production's Application deploys %s after staging turned Degraded; want v2 kept", got)
	}
	if v := mustRemoteKubectl(t, r, "get", "configmap", "guestbook", "-n", ns+"-production", "-o", "jsonpath={.data.value}"); v != "v2" {
		t.Errorf("production's guestbook after the stopped rollout: %q", v)
	}
	if events.first("guestbook-production", deploys("v3")) != 0 {
		t.Error("production's Application was given v3 at some point")
	}
	out := p.expect(t, 0, Admin, "appset", "status", "guestbook", "-n", ns)
	for _, want := range []string{"Rollout: Degraded", "staging env=staging 100% Degraded 0/1", "production env=production 100% Waiting 0/1 waits for step staging"} {
		if !strings.Contains(normalizeSpace(out.Stdout), want) {
			t.Errorf("kubectl ferry appset status lacks %q:\n%s", want, out.Stdout)
		}
	}
}
