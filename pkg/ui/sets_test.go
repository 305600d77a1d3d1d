package ui

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

func testSet(ns, name string, uid types.UID, apps ...string) *gitopsv1alpha1.ApplicationSet {
	set := &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: uid, ResourceVersion: "5", Generation: 1, CreationTimestamp: metav1.NewTime(time.Now().Add(-3 * time.Hour))},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			Generators: []gitopsv1alpha1.ApplicationSetGenerator{{List: &gitopsv1alpha1.ListGenerator{Elements: []runtime.RawExtension{{Raw: []byte(`{"env":"dev"}`)}, {Raw: []byte(`{"env":"qa"}`)}}}}},
			Template: gitopsv1alpha1.ApplicationSetTemplate{
				Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "shop-{{.env}}"},
				Spec: gitopsv1alpha1.ApplicationSpec{
					Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example/shop.git", Revision: "main", Path: "envs/{{.env}}"},
					Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "shop-{{.env}}"},
					SyncPolicy:  gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true}},
				},
			},
			SyncPolicy: gitopsv1alpha1.ApplicationSetSyncPolicy{ApplicationsSync: gitopsv1alpha1.ApplicationsSyncCreateUpdate},
		},
		Status: gitopsv1alpha1.ApplicationSetStatus{ObservedGeneration: 1,
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Generated", Message: "2 Applications up to date"}}},
	}
	for _, a := range apps {
		set.Status.Applications = append(set.Status.Applications, gitopsv1alpha1.ApplicationSetApplicationStatus{Name: a})
	}
	return set
}

// generated is an Application as the ApplicationSet controller makes it: its label and a
// controller owner reference to the set.
func generated(set *gitopsv1alpha1.ApplicationSet, name string, sync gitopsv1alpha1.SyncStatusCode) *gitopsv1alpha1.Application {
	app := testApp(set.Namespace, name, sync)
	app.Labels = map[string]string{setLabel: set.Name}
	t := true
	app.OwnerReferences = []metav1.OwnerReference{{APIVersion: "gitops.ferry.dev/v1alpha1", Kind: "ApplicationSet", Name: set.Name, UID: set.UID, Controller: &t}}
	return app
}

func testCluster(name, server string) *gitopsv1alpha1.Cluster {
	return &gitopsv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "9", Labels: map[string]string{"env": "prod"}, CreationTimestamp: metav1.NewTime(time.Now().Add(-48 * time.Hour))},
		Spec: gitopsv1alpha1.ClusterSpec{Server: server, CABundle: []byte("-----BEGIN CERTIFICATE-----\nMIIsecretish\n-----END CERTIFICATE-----\n"),
			CredentialsRef: gitopsv1alpha1.LocalObjectReference{Name: name + "-token-secret"}},
		Status: gitopsv1alpha1.ClusterStatus{KubernetesVersion: "v1.37.2",
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Reachable", Message: "reached with Ferry's credentials"}}},
	}
}

func targetingApp(ns, name, cluster string) *gitopsv1alpha1.Application {
	app := testApp(ns, name, gitopsv1alpha1.SyncStatusSynced)
	app.Spec.Destination.Cluster = cluster
	return app
}

// stream opens the live stream at path and returns the data lines of its events one by one.
func (u *uiServer) stream(t *testing.T, cookie *http.Cookie, path string) func() string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.base+path, nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET %s: %s %s", path, resp.Status, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	event := ""
	return func() string {
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "event: ") {
				event = strings.TrimPrefix(line, "event: ")
			}
			if strings.HasPrefix(line, "data: ") {
				return event + " " + strings.TrimPrefix(line, "data: ")
			}
		}
		t.Fatalf("the stream %s ended: %v", path, sc.Err())
		return ""
	}
}

// until reads events until one contains every want, failing on a problem event.
func until(t *testing.T, next func() string, what string, want ...string) string {
	t.Helper()
	for {
		ev := next()
		if strings.HasPrefix(ev, "problem ") {
			t.Fatalf("waiting for %s, the stream reported a problem: %s", what, ev)
		}
		all := true
		for _, w := range want {
			all = all && strings.Contains(ev, w)
		}
		if all {
			return ev
		}
	}
}

func TestApplicationSetsPageListsGeneratorsApplicationsAndConditions(t *testing.T) {
	ok := testSet("shop", "envs", "uid-envs", "shop-dev", "shop-qa")
	broken := testSet("blog", "fleet", "uid-fleet")
	broken.Spec.Generators = []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}}}}
	broken.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "TemplateFailed", Message: `spec.template.metadata.name: map has no entry for key "region"`}}
	u := startUI(t, ok, broken)
	resp, body := u.do(t, http.MethodGet, "/applicationsets", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /applicationsets: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		`<tr id="appset/shop/envs" data-ready="True" data-applications="2">`, `<a href="/applicationsets/shop/envs">envs</a>`, "list of 2 elements",
		`<tr id="appset/blog/fleet" data-ready="False" data-applications="0">`, "clusters: env=prod", "TemplateFailed",
		"map has no entry for key &#34;region&#34;", `<time datetime="` + broken.CreationTimestamp.UTC().Format(time.RFC3339) + `">3h</time>`, `<th scope="col">Generators</th>`, "<caption",
		`<a href="/applicationsets" aria-current="page">ApplicationSets</a>`, `<a href="/">Applications</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the ApplicationSets page lacks %q:\n%s", want, body)
		}
	}
	if i, j := strings.Index(body, "appset/blog/fleet"), strings.Index(body, "appset/shop/envs"); i > j {
		t.Errorf("the sets are not sorted by namespace and name")
	}
}

func TestApplicationSetPageShowsItsSpecConditionsAndGeneratedApplications(t *testing.T) {
	set := testSet("shop", "envs", "uid-envs", "shop-dev", "shop-qa")
	// shop-impostor carries the label by hand but is not the set's: no owner reference.
	impostor := testApp("shop", "shop-impostor", gitopsv1alpha1.SyncStatusSynced)
	impostor.Labels = map[string]string{setLabel: "envs"}
	u := startUI(t, set, generated(set, "shop-dev", gitopsv1alpha1.SyncStatusSynced), generated(set, "shop-qa", gitopsv1alpha1.SyncStatusOutOfSync),
		impostor, testApp("shop", "other", gitopsv1alpha1.SyncStatusSynced))
	resp, body := u.do(t, http.MethodGet, "/applicationsets/shop/envs", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the set's page: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		"list of 2 elements", "<code>shop-{{.env}}</code>", "<code>https://git.example/shop.git</code>", "path <code>envs/{{.env}}</code>",
		"namespace shop-{{.env}} of cluster in-cluster", "automated (prune)", "create and update, never delete",
		"2 Applications up to date", `<tr data-type="Ready" data-status="True">`,
		`<tr id="app/shop/shop-dev" data-sync="Synced" data-health="Healthy">`, `<a href="/applications/shop/shop-dev">shop-dev</a>`,
		`<tr id="app/shop/shop-qa" data-sync="OutOfSync"`, `<span class="badge sync-OutOfSync">OutOfSync</span>`,
		`<a href="/applicationsets" aria-current="true">ApplicationSets</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the set's page lacks %q:\n%s", want, body)
		}
	}
	for _, bad := range []string{"app/shop/shop-impostor", "app/shop/other"} {
		if strings.Contains(body, bad) {
			t.Errorf("the set's page lists %s, which the set did not generate", bad)
		}
	}
	if !strings.Contains(body, "uid=uid-envs") || !strings.Contains(body, "apprv=") {
		t.Errorf("the page's stream does not follow the set's Applications:\n%s", body)
	}
}

// TestApplicationSetsStreamReplacesAChangedSet: a set whose generation fails is sent as its row,
// re-rendered not ready with the message; a deleted set's row is removed.
func TestApplicationSetsStreamReplacesAChangedSet(t *testing.T) {
	set := testSet("shop", "envs", "uid-envs", "shop-dev")
	u := startUI(t, set)
	fw := watch.NewFake()
	opts := make(chan metav1.ListOptions, 1)
	u.client.PrependWatchReactor("applicationsets", func(a k8stesting.Action) (bool, watch.Interface, error) {
		opts <- a.(k8stesting.WatchActionImpl).ListOptions
		return true, fw, nil
	})
	next := u.stream(t, u.login(t), "/events?view=appsets&namespace=shop&rv=5")
	if got := <-opts; !got.AllowWatchBookmarks || got.ResourceVersion != "5" {
		t.Errorf("watch options %+v; want bookmarks, from resourceVersion 5 (the page's list)", got)
	}
	failed := set.DeepCopy()
	failed.Status.Conditions[0] = metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Forbidden", Message: "ServiceAccount shop/default may not use cluster prod"}
	go func() {
		fw.Action(watch.Bookmark, &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "6"}})
		fw.Modify(failed)
		fw.Delete(failed)
	}()
	ev := until(t, next, "the set's row replaced", `"id":"appset/shop/envs"`, `"parent":"sets-body"`)
	if !strings.HasPrefix(ev, "replace ") || !strings.Contains(ev, `data-ready=\"False\"`) || !strings.Contains(ev, "may not use cluster prod") {
		t.Fatalf("the changed set was sent as %s; want its row replaced, not ready, with the message", ev)
	}
	if ev := next(); !strings.HasPrefix(ev, "remove ") || !strings.Contains(ev, `"id":"appset/shop/envs"`) {
		t.Fatalf("the deleted set was sent as %s; want its row removed", ev)
	}
}

// TestApplicationSetPageStreamsItsApplicationsAndItself: on a set's page, a generated
// Application that turns OutOfSync is replaced in place; one that is not the set's is never
// added; a change of the set replaces its summary.
func TestApplicationSetPageStreamsItsApplicationsAndItself(t *testing.T) {
	set := testSet("shop", "envs", "uid-envs", "shop-dev")
	u := startUI(t, set, generated(set, "shop-dev", gitopsv1alpha1.SyncStatusSynced))
	apps, sets := watch.NewFake(), watch.NewFake()
	u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) { return true, apps, nil })
	u.client.PrependWatchReactor("applicationsets", func(k8stesting.Action) (bool, watch.Interface, error) { return true, sets, nil })
	next := u.stream(t, u.login(t), "/events?view=appset&namespace=shop&name=envs&uid=uid-envs&rv=5&apprv=7")
	stranger := testApp("shop", "stranger", gitopsv1alpha1.SyncStatusOutOfSync)
	stranger.Labels = map[string]string{setLabel: "envs"}
	go func() {
		apps.Add(stranger)
		apps.Modify(generated(set, "shop-dev", gitopsv1alpha1.SyncStatusOutOfSync))
	}()
	var ev string
	for ev = next(); !strings.Contains(ev, `"id":"app/shop/shop-dev"`); ev = next() {
		if strings.HasPrefix(ev, "replace ") && strings.Contains(ev, "app/shop/stranger") {
			t.Fatalf("an Application the set does not own was added to its page: %s", ev)
		}
	}
	if !strings.HasPrefix(ev, "replace ") || !strings.Contains(ev, `data-sync=\"OutOfSync\"`) || !strings.Contains(ev, `"parent":"set-apps-body"`) ||
		!strings.Contains(ev, `href=\"/applications/shop/shop-dev\"`) {
		t.Fatalf("shop-dev's change was sent as %s; want its line replaced OutOfSync with its link", ev)
	}
	changed := set.DeepCopy()
	changed.Status.Conditions[0].Message = "3 Applications up to date"
	go sets.Modify(changed)
	ev = until(t, next, "the set's summary", `"id":"set-live"`)
	if !strings.Contains(ev, "3 Applications up to date") {
		t.Fatalf("the set's change was sent as %s; want its summary with the new message", ev)
	}
}

func TestClustersPageShowsServerVersionReadyAndApplicationsButNoCredentials(t *testing.T) {
	prod := testCluster("prod", "https://prod.example:6443")
	down := testCluster("staging", "https://staging.example:6443")
	down.Status.Conditions[0] = metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Unauthorized", Message: "the cluster refused Ferry's token"}
	u := startUI(t, prod, down, targetingApp("shop", "web", "prod"), targetingApp("blog", "web", "prod"), targetingApp("shop", "db", ""))
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodGet, "/clusters", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /clusters: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		`<tr id="cluster/prod" data-ready="True" data-applications="2">`, `<a href="/clusters/prod">prod</a>`, "<code>https://prod.example:6443</code>", "v1.37.2",
		`<tr id="cluster/staging" data-ready="False" data-applications="0">`, "the cluster refused Ferry&#39;s token",
		`<tr id="cluster/(in-cluster)" data-ready="" data-applications="1">`, `<a href="/clusters/%28in-cluster%29">in-cluster</a>`,
		`<a href="/clusters" aria-current="page">Clusters</a>`, "<caption",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the Clusters page lacks %q:\n%s", want, body)
		}
	}
	resp, page := u.do(t, http.MethodGet, "/clusters/prod", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /clusters/prod: %s\n%s", resp.Status, page)
	}
	for _, want := range []string{`<tr id="app/blog/web"`, `<tr id="app/shop/web"`, `<a href="/applications/shop/web">web</a>`, "reached with Ferry&#39;s credentials", "env=prod"} {
		if !strings.Contains(page, want) {
			t.Errorf("prod's page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "app/shop/db") {
		t.Errorf("prod's page lists shop/db, which deploys in-cluster")
	}
	resp, page = u.do(t, http.MethodGet, "/clusters/(in-cluster)", withCookie(cookie))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<tr id="app/shop/db"`) || strings.Contains(page, "app/shop/web") {
		t.Errorf("the in-cluster page: %s; want shop/db only:\n%s", resp.Status, page)
	}
	for _, secret := range []string{"token-secret", "MIIsecretish", base64.StdEncoding.EncodeToString(prod.Spec.CABundle)} {
		if strings.Contains(body, secret) || strings.Contains(page, secret) {
			t.Errorf("a Cluster's credentials (%s) are shown", secret)
		}
	}
}

// TestClustersPageSaysWhichApplicationsItCounts: a person who may not list Applications in
// every namespace is told the counts are those of the context's namespace; one who may list
// none is told why, with the API's message.
func TestClustersPageSaysWhichApplicationsItCounts(t *testing.T) {
	refuse := func(everywhere bool) *fake.Clientset {
		c := fake.NewSimpleClientset(testCluster("prod", "https://prod.example:6443"), targetingApp("shop", "web", "prod"), targetingApp("blog", "web", "prod"))
		c.PrependReactor("list", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
			if everywhere || a.GetNamespace() == "" {
				return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications"}, "",
					errors.New(`User "alice" cannot list resource "applications" in API group "gitops.ferry.dev" at the cluster scope`))
			}
			return false, nil, nil
		})
		return c
	}
	u := startUIWith(t, Config{Client: refuse(false), FallbackNamespace: "shop"})
	_, body := u.do(t, http.MethodGet, "/clusters", withCookie(u.login(t)))
	if !strings.Contains(body, `<tr id="cluster/prod" data-ready="True" data-applications="1">`) || !strings.Contains(body, "showing namespace shop") ||
		!strings.Contains(body, "cannot list resource") || !strings.Contains(body, "appns=shop") {
		t.Errorf("the Clusters page does not count shop's Applications only, saying why:\n%s", body)
	}
	u = startUIWith(t, Config{Client: refuse(true), FallbackNamespace: "shop"})
	_, body = u.do(t, http.MethodGet, "/clusters", withCookie(u.login(t)))
	if !strings.Contains(body, `data-applications="">`) || !strings.Contains(body, "You may not list Applications") || !strings.Contains(body, "apps=no") {
		t.Errorf("the Clusters page does not say the Applications may not be listed:\n%s", body)
	}
}

// TestClustersStreamFollowsClustersAndTheApplicationsThatTargetThem: an Application moving
// from one cluster to another re-sends both rows with their new counts; a Cluster that turns
// unready is re-sent with its message.
func TestClustersStreamFollowsClustersAndTheApplicationsThatTargetThem(t *testing.T) {
	prod := testCluster("prod", "https://prod.example:6443")
	u := startUI(t, prod, testCluster("staging", "https://staging.example:6443"), targetingApp("shop", "web", "prod"))
	apps, clusters := watch.NewFake(), watch.NewFake()
	u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) { return true, apps, nil })
	u.client.PrependWatchReactor("clusters", func(k8stesting.Action) (bool, watch.Interface, error) { return true, clusters, nil })
	next := u.stream(t, u.login(t), "/events?view=clusters&appns=")
	ev := until(t, next, "the first table", `"id":"clusters-body"`)
	if !strings.Contains(ev, `id=\"cluster/prod\" data-ready=\"True\" data-applications=\"1\"`) {
		t.Fatalf("the first table %s; want prod with 1 Application", ev)
	}
	go apps.Modify(targetingApp("shop", "web", "staging"))
	for _, want := range []string{`id=\"cluster/prod\" data-ready=\"True\" data-applications=\"0\"`, `id=\"cluster/staging\" data-ready=\"True\" data-applications=\"1\"`} {
		if ev := until(t, next, "a row after the move", `"id":"cluster/`); !strings.Contains(ev, want) {
			t.Fatalf("after shop/web moved to staging the stream sent %s; want %s", ev, want)
		}
	}
	unready := prod.DeepCopy()
	unready.Status.Conditions[0] = metav1.Condition{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Unreachable", Message: "dial tcp: connection refused"}
	go clusters.Modify(unready)
	ev = until(t, next, "prod's row", `"id":"cluster/prod"`)
	if !strings.Contains(ev, `data-ready=\"False\" data-applications=\"0\"`) || !strings.Contains(ev, "connection refused") {
		t.Fatalf("prod turning unready was sent as %s", ev)
	}
}

// TestClusterPageStreamsTheApplicationsThatTargetIt: an Application that starts targeting the
// Cluster is added to its page; one that leaves is removed.
func TestClusterPageStreamsTheApplicationsThatTargetIt(t *testing.T) {
	u := startUI(t, testCluster("prod", "https://prod.example:6443"), targetingApp("shop", "web", "prod"))
	apps := watch.NewFake()
	u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) { return true, apps, nil })
	u.client.PrependWatchReactor("clusters", func(k8stesting.Action) (bool, watch.Interface, error) { return true, watch.NewFake(), nil })
	next := u.stream(t, u.login(t), "/events?view=cluster&name=prod&rv=9&appns=&apprv=7")
	go func() {
		apps.Add(targetingApp("blog", "api", "prod"))
		apps.Modify(targetingApp("shop", "web", "staging"))
	}()
	ev := until(t, next, "blog/api's line", `"id":"app/blog/api"`)
	if !strings.HasPrefix(ev, "replace ") || !strings.Contains(ev, `"parent":"cluster-apps-body"`) {
		t.Fatalf("an Application targeting prod was sent as %s; want its line added", ev)
	}
	if ev := until(t, next, "shop/web's line", `"id":"app/shop/web"`); !strings.HasPrefix(ev, "remove ") {
		t.Fatalf("an Application leaving prod was sent as %s; want its line removed", ev)
	}
}

// TestSetsAndClustersPagesShowTheAPIsRefusal: a 403 is shown with the API's message and answered
// with the API's code.
func TestSetsAndClustersPagesShowTheAPIsRefusal(t *testing.T) {
	client := fake.NewSimpleClientset(testCluster("prod", "https://prod.example:6443"), testSet("shop", "envs", "uid-envs"))
	client.PrependReactor("*", "clusters", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "clusters"}, "",
			errors.New(`User "editor" cannot list resource "clusters" in API group "gitops.ferry.dev" at the cluster scope`))
	})
	client.PrependReactor("get", "applicationsets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden("applicationsets", `User "editor" cannot get resource "applicationsets" in API group "gitops.ferry.dev" in the namespace "shop"`)
	})
	u := startUIWith(t, Config{Client: client})
	cookie := u.login(t)
	for path, want := range map[string]string{
		"/clusters":                  `User &#34;editor&#34; cannot list resource &#34;clusters&#34; in API group &#34;gitops.ferry.dev&#34; at the cluster scope`,
		"/clusters/prod":             `cannot list resource &#34;clusters&#34;`,
		"/applicationsets/shop/envs": `User &#34;editor&#34; cannot get resource &#34;applicationsets&#34;`,
	} {
		resp, body := u.do(t, http.MethodGet, path, withCookie(cookie))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, want) || !strings.Contains(body, `role="alert" data-status="403"`) {
			t.Errorf("GET %s: %s; want 403 with the API's message %q:\n%s", path, resp.Status, want, body)
		}
	}
	// A stream refused later says so with the API's message, as a problem.
	next := u.stream(t, cookie, "/events?view=clusters&apps=no")
	if ev := next(); !strings.HasPrefix(ev, "problem ") || !strings.Contains(ev, `cannot list resource \"clusters\"`) {
		t.Fatalf("the refused stream sent %s; want a problem with the API's message", ev)
	}
}

// TestApplicationSetPageShowsItsRollingSyncSteps: a set with a rolling sync shows the rollout's
// state and each step in spec order, with its selector, maxUpdate, phase and ready count.
func TestApplicationSetPageShowsItsRollingSyncSteps(t *testing.T) {
	set := testSet("shop", "envs", "uid-envs", "shop-dev", "shop-qa")
	one := intstr.FromInt32(1)
	set.Spec.Strategy = &gitopsv1alpha1.ApplicationSetStrategy{RollingSync: &gitopsv1alpha1.RollingSyncStrategy{Steps: []gitopsv1alpha1.RollingSyncStep{
		{Name: "dev", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "dev"}}},
		{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "qa"}}, MaxUpdate: &one},
		{Name: "rest"}, // an empty selector: every Application left
	}}}
	set.Status.Conditions = append(set.Status.Conditions, metav1.Condition{Type: "RolledOut", Status: metav1.ConditionFalse, Reason: "Degraded",
		Message: "step 1 of 2 (dev): Application shop-dev Degraded"})
	set.Status.Steps = []gitopsv1alpha1.RolloutStepStatus{
		{Name: "dev", Phase: gitopsv1alpha1.RolloutStepDegraded, Applications: 1, Updated: 1, Message: "Application shop-dev Degraded"},
		{Name: "step-2", Phase: gitopsv1alpha1.RolloutStepWaiting, Applications: 1, Message: "waits for step dev"},
	}
	u := startUI(t, set)
	resp, body := u.do(t, http.MethodGet, "/applicationsets/shop/envs", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the set's page: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		`<h2 id="h-rollout">Rollout</h2>`, `<p id="set-rollout" data-reason="Degraded">step 1 of 2 (dev): Application shop-dev Degraded</p>`,
		`<tr id="step/dev" data-phase="Degraded"><th scope="row">dev</th><td><code>env=dev</code></td><td>100%</td><td><span class="badge step-Degraded">Degraded</span></td><td>0/1</td><td>Application shop-dev Degraded</td></tr>`,
		`<tr id="step/step-2" data-phase="Waiting"><th scope="row">step-2</th><td><code>env=qa</code></td><td>1</td>`,
		`<tr id="step/rest" data-phase="Unknown"><th scope="row">rest</th><td><code>every Application</code></td><td>100%</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the set's page lacks %q:\n%s", want, body)
		}
	}
	plain := testSet("shop", "plain", "uid-plain")
	u = startUI(t, plain)
	if _, body := u.do(t, http.MethodGet, "/applicationsets/shop/plain", withCookie(u.login(t))); strings.Contains(body, "h-rollout") {
		t.Errorf("a set without a rolling sync shows a Rollout section")
	}
}
