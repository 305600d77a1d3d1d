package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// registerSelf registers the main stack's own cluster as a Cluster named name, as a platform team
// registers the cluster Ferry runs in to address it through ApplicationSets like any other.
func registerSelf(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	registerCluster(t, requireStack(t).Stack, name, labels)
}

// getAppSet reads an ApplicationSet.
func getAppSet(t *testing.T, ns, name string) *gitopsv1alpha1.ApplicationSet {
	t.Helper()
	set, err := ferryClient(t, Admin).GitopsV1alpha1().ApplicationSets(ns).Get(ctxFor(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get applicationset %s/%s: %v", ns, name, err)
	}
	return set
}

func describeSet(set *gitopsv1alpha1.ApplicationSet) string {
	s := fmt.Sprintf("generation %d observed %d, applications %v", set.Generation, set.Status.ObservedGeneration, set.Status.Applications)
	for _, c := range set.Status.Conditions {
		s += fmt.Sprintf("; %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}

func waitAppSet(t *testing.T, ns, name, what string, cond func(*gitopsv1alpha1.ApplicationSet) bool) *gitopsv1alpha1.ApplicationSet {
	t.Helper()
	var last *gitopsv1alpha1.ApplicationSet
	eventually(t, syncTimeout, what, func() (bool, string) {
		last = getAppSet(t, ns, name)
		return cond(last), describeSet(last)
	})
	return last
}

// generatedSynced: the set made exactly these Applications, each Synced.
func generatedSynced(names ...string) func(*gitopsv1alpha1.ApplicationSet) bool {
	return func(set *gitopsv1alpha1.ApplicationSet) bool {
		if len(set.Status.Applications) != len(names) {
			return false
		}
		for i, a := range set.Status.Applications {
			if a.Name != names[i] || a.Sync != gitopsv1alpha1.SyncStatusSynced {
				return false
			}
		}
		return true
	}
}

func appExists(t *testing.T, ns, name string) bool {
	t.Helper()
	r := requireStack(t).Run(Admin, "", "get", "application", name, "-n", ns)
	return r.Err == nil
}

// TestAnApplicationSetDeploysToEveryLabelledCluster: a clusters generator makes one Application
// per Cluster with the fleet's label, each deploying to its own cluster. A Cluster labelled
// later that the set's ServiceAccount may not use makes no Application, and the set says why;
// granting use makes it; unlabelling it deletes its Application, which prunes what it deployed.
func TestAnApplicationSetDeploysToEveryLabelledCluster(t *testing.T) {
	s := requireStack(t)
	r := remoteStack(t)
	id := fmt.Sprintf("%05d", rand.IntN(100000))
	staging, local, third := "staging-"+id, "local-"+id, "third-"+id
	registerCluster(t, r, staging, map[string]string{"fleet": id, "env": "staging"})
	registerSelf(t, local, map[string]string{"fleet": id, "env": "dev"})
	registerCluster(t, r, third, map[string]string{"env": "qa"})

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("fleet")
	repo.Commit("main", map[string]string{"guestbook/settings.yaml": configMapYAML("guestbook", "v1")}, "guestbook")
	// A tenant namespace: its ServiceAccount may deploy ConfigMaps into namespaces it creates,
	// and use no Cluster but those granted below.
	ns := newTenantNamespace(t, "appset")
	sa := "system:serviceaccount:" + ns + ":default"
	deployer := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-deployer-%[1]s}
rules:
- apiGroups: [""]
  resources: [namespaces, configmaps]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-deployer-%[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-deployer-%[1]s}
subjects: [{kind: ServiceAccount, name: default, namespace: %[2]s}]
`, id, ns)
	kubectlStdin(t, Admin, deployer, "apply", "-f", "-")
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "clusterrole,clusterrolebinding", "e2e-deployer-"+id, "--ignore-not-found")
	})
	// On the remote cluster the same ServiceAccount deploys, with the rights it has there.
	mustRemoteKubectl(t, r, "create", "clusterrolebinding", "e2e-"+ns, "--clusterrole=cluster-admin", "--user="+sa)
	// The set's ServiceAccount may use staging and local, not third.
	role := "use-fleet-" + id
	createUseRole(t, role, staging, local)
	kubectl(t, "create", "clusterrolebinding", role, "--clusterrole="+role, "--serviceaccount="+ns+":default")
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "clusterrole,clusterrolebinding", role, "--ignore-not-found")
	})

	set := fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
  namespace: %[1]s
spec:
  generators:
  - clusters:
      selector:
        matchLabels: {fleet: "%[2]s"}
  template:
    metadata:
      name: 'guestbook-{{.name}}'
      labels: {env: '{{.metadata.labels.env}}'}
    spec:
      source: {repoURL: %[3]s, path: guestbook}
      destination: {cluster: '{{.name}}', namespace: '%[1]s-{{.metadata.labels.env}}'}
      syncPolicy:
        automated: {prune: true}
        createNamespace: true
`, ns, id, repo.URL())
	kubectlStdin(t, Admin, set, "apply", "-f", "-")
	waitAppSet(t, ns, "guestbook", "two Applications Synced", generatedSynced("guestbook-"+local, "guestbook-"+staging))
	if v := mustRemoteKubectl(t, r, "get", "configmap", "guestbook", "-n", ns+"-staging", "-o", "jsonpath={.data.value}"); v != "v1" {
		t.Errorf("the staging cluster's guestbook: %q", v)
	}
	if v, ok := configMapValue(t, ns+"-dev", "guestbook"); !ok || v != "v1" {
		t.Errorf("the local cluster's guestbook: %q %v", v, ok)
	}
	app := getApp(t, ns, "guestbook-"+staging)
	if app.Labels["env"] != "staging" || !metav1.IsControlledBy(app, getAppSet(t, ns, "guestbook")) {
		t.Errorf("the generated Application's labels %v, owners %v", app.Labels, app.OwnerReferences)
	}
	out := kubectl(t, "get", "applicationsets", "guestbook", "-n", ns)
	header, row := headerAndRow(t, out, "guestbook")
	if strings.Join(header, " ") != "NAME APPLICATIONS SYNCED HEALTHY READY AGE" || row[1] != "2" || row[2] != "2/2" || row[4] != "True" {
		t.Errorf("kubectl get applicationsets:\n%s", out)
	}

	// A third cluster joins the fleet; the set's ServiceAccount may not use it, so the clusters
	// generator does not list it: the set neither deploys there nor learns that it exists. A
	// change of the template makes the set generate again, and say when it has.
	kubectl(t, "label", "clusters.gitops.ferry.dev", third, "fleet="+id)
	kubectl(t, "patch", "applicationset", "guestbook", "-n", ns, "--type=merge", "-p", `{"spec":{"template":{"metadata":{"labels":{"round":"2"}}}}}`)
	waitAppSet(t, ns, "guestbook", "generated again, still two, the third cluster unnamed", func(set *gitopsv1alpha1.ApplicationSet) bool {
		c := findCondition(set.Status.Conditions, "Ready")
		return set.Status.ObservedGeneration == set.Generation && c != nil && c.Status == metav1.ConditionTrue &&
			len(set.Status.Applications) == 2 && !strings.Contains(c.Message, third)
	})
	if appExists(t, ns, "guestbook-"+third) {
		t.Fatal("an Application was generated for a cluster the set's ServiceAccount may not use")
	}
	createUseRole(t, role+"-third", third)
	kubectl(t, "create", "clusterrolebinding", role+"-third", "--clusterrole="+role+"-third", "--serviceaccount="+ns+":default")
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "clusterrole,clusterrolebinding", role+"-third", "--ignore-not-found")
	})
	// The set looks again at its interval or on any change; touch it to look now.
	kubectl(t, "annotate", "applicationset", "guestbook", "-n", ns, "touched=1")
	kubectl(t, "label", "clusters.gitops.ferry.dev", third, "tier=3")
	waitAppSet(t, ns, "guestbook", "three Applications Synced", generatedSynced("guestbook-"+local, "guestbook-"+staging, "guestbook-"+third))
	if v := mustRemoteKubectl(t, r, "get", "configmap", "guestbook", "-n", ns+"-qa", "-o", "jsonpath={.data.value}"); v != "v1" {
		t.Errorf("the third cluster's guestbook: %q", v)
	}

	// Unlabelled, the third cluster's Application goes, and prunes what it deployed there.
	kubectl(t, "label", "clusters.gitops.ferry.dev", third, "fleet-")
	waitAppSet(t, ns, "guestbook", "back to two", generatedSynced("guestbook-"+local, "guestbook-"+staging))
	eventually(t, syncTimeout, "the third cluster's guestbook pruned", func() (bool, string) {
		out, err := remoteKubectl(t, r, "get", "configmap", "guestbook", "-n", ns+"-qa")
		return err != nil && strings.Contains(out, "NotFound"), out
	})

	// Deleting the set deletes its Applications, which prune.
	kubectl(t, "delete", "applicationset", "guestbook", "-n", ns, "--wait=true", "--timeout=60s")
	eventually(t, syncTimeout, "the generated Applications gone", func() (bool, string) {
		return !appExists(t, ns, "guestbook-"+staging) && !appExists(t, ns, "guestbook-"+local), ""
	})
}

// createUseRole makes a ClusterRole allowing use of the named Clusters. kubectl create
// clusterrole refuses the verb use on anything but PodSecurityPolicies, so it is written out.
func createUseRole(t *testing.T, name string, clusters ...string) {
	t.Helper()
	role := fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %s}
rules:
- apiGroups: [gitops.ferry.dev]
  resources: [clusters]
  resourceNames: ["%s"]
  verbs: [use]
`, name, strings.Join(clusters, `", "`))
	kubectlStdin(t, Admin, role, "apply", "-f", "-")
}

func findCondition(conds []metav1.Condition, typ string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// TestAGitGeneratorMakesAnApplicationPerDirectoryWithOneFetch: a monorepo of 50 service
// directories makes 50 Applications, all Synced, from one fetch of the repository; a typo in
// the template is a condition naming the field, and nothing changes.
func TestAGitGeneratorMakesAnApplicationPerDirectoryWithOneFetch(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("monorepo")
	files := map[string]string{"README.md": "services\n", "services/excluded/settings.yaml": configMapYAML("excluded", "x")}
	for i := range 50 {
		name := fmt.Sprintf("svc-%02d", i)
		files["services/"+name+"/settings.yaml"] = configMapYAML(name, "v1")
	}
	repo.Commit("main", files, "fifty services")
	ns := newNamespace(t, "monorepo")
	set := fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: ApplicationSet
metadata: {name: services, namespace: %[1]s}
spec:
  generators:
  - git:
      repoURL: %[2]s
      revision: main
      directories:
      - path: services/*
      - path: services/excluded
        exclude: true
  template:
    metadata: {name: '{{.path.basenameNormalized}}'}
    spec:
      source: {repoURL: %[2]s, revision: main, path: '{{.path.path}}'}
      destination: {namespace: %[1]s}
      syncPolicy: {automated: {}}
`, ns, repo.URL())
	kubectlStdin(t, Admin, set, "apply", "-f", "-")
	var names []string
	for i := range 50 {
		names = append(names, fmt.Sprintf("svc-%02d", i))
	}
	waitAppSet(t, ns, "services", "50 Applications Synced", generatedSynced(names...))
	if n := srv.CountRequests("POST /monorepo.git/git-upload-pack"); n != 1 {
		t.Errorf("50 generated Applications and their set fetched the repository %d times, want 1", n)
	}
	if _, ok := configMapValue(t, ns, "excluded"); ok {
		t.Error("the excluded directory was deployed")
	}

	kubectl(t, "patch", "applicationset", "services", "-n", ns, "--type=merge", "-p", `{"spec":{"template":{"spec":{"source":{"path":"{{.path.pth}}"}}}}}`)
	got := waitAppSet(t, ns, "services", "TemplateFailed", func(set *gitopsv1alpha1.ApplicationSet) bool {
		c := findCondition(set.Status.Conditions, "Ready")
		return c != nil && c.Reason == "TemplateFailed" && set.Status.ObservedGeneration == set.Generation
	})
	if c := findCondition(got.Status.Conditions, "Ready"); !strings.Contains(c.Message, "spec.template.spec.source.path") || !strings.Contains(c.Message, `"pth"`) {
		t.Errorf("the typo's condition does not name the field and the parameter: %s", c.Message)
	}
	if a := getApp(t, ns, "svc-07"); a.Spec.Source.Path != "services/svc-07" {
		t.Errorf("a failed generation changed svc-07's path to %q", a.Spec.Source.Path)
	}
	// A template that does not parse is refused at write time, naming the field.
	r := kubectlFails(t, Admin, "", "patch", "applicationset", "services", "-n", ns, "--type=merge", "-p", `{"spec":{"template":{"metadata":{"name":"{{.path"}}}}`)
	if !strings.Contains(r.Stderr, "spec.template.metadata.name") {
		t.Errorf("an unparsable template: want 422 naming spec.template.metadata.name, got %s", r)
	}
}

// TestAnApplicationSetsPoliciesKeepWhatTheySay: a list generator under create-update never
// deletes an Application whose element went; preserveResourcesOnDeletion keeps what the
// Applications deployed when the set goes; create-only never changes what it made.
func TestAnApplicationSetsPoliciesKeepWhatTheySay(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("policies")
	repo.Commit("main", map[string]string{
		"envs/dev/settings.yaml": configMapYAML("settings-dev", "v1"),
		"envs/qa/settings.yaml":  configMapYAML("settings-qa", "v1"),
	}, "two environments")
	ns := newNamespace(t, "policies")
	set := func(policy string, envs ...string) string {
		var elements []string
		for _, e := range envs {
			elements = append(elements, fmt.Sprintf(`{"env": %q}`, e))
		}
		return fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: ApplicationSet
metadata: {name: envs, namespace: %[1]s}
spec:
  generators:
  - list: {elements: [%[2]s]}
  syncPolicy: {applicationsSync: %[3]s, preserveResourcesOnDeletion: true}
  template:
    metadata: {name: 'settings-{{.env}}'}
    spec:
      source: {repoURL: %[4]s, revision: main, path: 'envs/{{.env}}'}
      destination: {namespace: %[1]s}
      syncPolicy: {automated: {prune: true}}
`, ns, strings.Join(elements, ", "), policy, repo.URL())
	}
	kubectlStdin(t, Admin, set("create-update", "dev", "qa"), "apply", "-f", "-")
	waitAppSet(t, ns, "envs", "two Applications Synced", generatedSynced("settings-dev", "settings-qa"))
	if a := getApp(t, ns, "settings-dev"); a.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation] != gitopsv1alpha1.DeletionPolicyOrphan {
		t.Errorf("preserveResourcesOnDeletion: the generated Application's annotations are %v", a.Annotations)
	}

	// create-update: qa's element goes, its Application stays.
	kubectlStdin(t, Admin, set("create-update", "dev"), "apply", "-f", "-")
	waitAppSet(t, ns, "envs", "generation 2 seen", func(s *gitopsv1alpha1.ApplicationSet) bool { return s.Status.ObservedGeneration == s.Generation })
	if !appExists(t, ns, "settings-qa") {
		t.Error("create-update deleted an Application whose element went")
	}

	// create-only: a hand edit of a generated Application stays.
	kubectlStdin(t, Admin, set("create-only", "dev"), "apply", "-f", "-")
	waitAppSet(t, ns, "envs", "generation 3 seen", func(s *gitopsv1alpha1.ApplicationSet) bool { return s.Status.ObservedGeneration == s.Generation })
	kubectl(t, "patch", "application", "settings-dev", "-n", ns, "--type=merge", "-p", `{"spec":{"syncPolicy":{"interval":"7m"}}}`)
	// A change of the set's spec makes it generate again, after the edit.
	kubectlStdin(t, Admin, set("create-only", "dev", "qa"), "apply", "-f", "-")
	waitAppSet(t, ns, "envs", "generation 4 seen", func(s *gitopsv1alpha1.ApplicationSet) bool {
		return s.Generation == 4 && s.Status.ObservedGeneration == 4
	})
	if got := getApp(t, ns, "settings-dev").Spec.SyncPolicy.Interval; got == nil || got.Duration != 7*time.Minute {
		t.Errorf("create-only changed a generated Application back: interval %v", got)
	}

	// Deleting the set deletes its Applications, and keeps what they deployed.
	kubectl(t, "delete", "applicationset", "envs", "-n", ns, "--wait=true", "--timeout=60s")
	eventually(t, syncTimeout, "the generated Applications gone", func() (bool, string) {
		return !appExists(t, ns, "settings-dev"), ""
	})
	if v, ok := configMapValue(t, ns, "settings-dev"); !ok || v != "v1" {
		t.Errorf("preserveResourcesOnDeletion: the ConfigMap is %q (exists %v) after the set went", v, ok)
	}
}
