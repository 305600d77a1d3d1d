// Package integration runs ferry-apiserver in-process on 127.0.0.1 with its embedded etcd and
// talks to it with the generated typed client, as any client-go program would.
package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	ferryapply "github.com/ferry-gitops/ferry/pkg/generated/applyconfiguration/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/testing/inprocess"
)

// testServer is a running in-process ferry-apiserver.
type testServer struct {
	config *rest.Config
	client versioned.Interface
	stop   func()
}

// startServer starts ferry-apiserver on a free port of 127.0.0.1 with an embedded etcd in
// dataDir, without delegation to a kube-apiserver; clients use the loopback identity.
func startServer(t *testing.T, dataDir string) *testServer {
	t.Helper()
	s := inprocess.Start(t, inprocess.Options{DataDir: dataDir})
	return &testServer{config: s.Config, client: s.Client, stop: s.Stop}
}

func newApp(name string) *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Path: "apps/" + name},
		},
	}
}

func TestDiscoveryListsApplicationsAndSubresources(t *testing.T) {
	ts := startServer(t, t.TempDir())
	dc := discovery.NewDiscoveryClientForConfigOrDie(ts.config)
	list, err := dc.ServerResourcesForGroupVersion("gitops.ferry.dev/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]metav1.APIResource{}
	for _, r := range list.APIResources {
		byName[r.Name] = r
	}
	want := map[string]struct {
		kind  string
		verbs []string
	}{
		"applications":           {"Application", []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
		"applications/status":    {"Application", []string{"get", "patch", "update"}},
		"applications/sync":      {"ApplicationSync", []string{"create"}},
		"applications/refresh":   {"ApplicationRefresh", []string{"create"}},
		"applications/health":    {"ApplicationHealth", []string{"get"}},
		"applications/manifests": {"ApplicationManifests", []string{"get"}},
		"applications/diff":      {"ApplicationDiff", []string{"get"}},
		"applicationpreviews":    {"ApplicationPreview", []string{"create"}},
		"receivers":              {"Receiver", []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
		"receivers/status":       {"Receiver", []string{"get", "patch", "update"}},
	}
	for name, w := range want {
		r, ok := byName[name]
		if !ok {
			t.Errorf("discovery lacks %s; has %v", name, byName)
			continue
		}
		if r.Kind != w.kind || !r.Namespaced {
			t.Errorf("%s: kind %s namespaced %v; want %s, namespaced", name, r.Kind, r.Namespaced, w.kind)
		}
		if got := strings.Join(r.Verbs, ","); got != strings.Join(w.verbs, ",") {
			t.Errorf("%s verbs = %s, want %s", name, got, strings.Join(w.verbs, ","))
		}
	}
	apps := byName["applications"]
	if strings.Join(apps.ShortNames, ",") != "fapp" || strings.Join(apps.Categories, ",") != "gitops" || apps.SingularName != "application" {
		t.Errorf("applications: shortNames %v categories %v singular %q; want fapp, gitops, application", apps.ShortNames, apps.Categories, apps.SingularName)
	}
}

func TestOpenAPIv3DescribesSyncAndFields(t *testing.T) {
	ts := startServer(t, t.TempDir())
	raw, err := ts.client.Discovery().RESTClient().Get().AbsPath("/openapi/v3/apis/gitops.ferry.dev/v1alpha1").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	syncPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/{namespace}/applications/{name}/sync"
	if _, ok := doc.Paths[syncPath]["post"]; !ok {
		t.Errorf("OpenAPI v3 has no POST %s", syncPath)
	}
	src, ok := doc.Components.Schemas["dev.ferry.gitops.v1alpha1.ApplicationSource"]
	if !ok {
		t.Fatalf("no schema for ApplicationSource")
	}
	if d := src.Properties["revision"].Description; !strings.Contains(d, "branch, tag or full 40-character commit SHA") {
		t.Errorf("revision description = %q", d)
	}
}

func TestTypedClientCRUD(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := context.Background()
	apps := ts.client.GitopsV1alpha1().Applications("team-a")

	created, err := apps.Create(ctx, newApp("guestbook"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if created.Spec.Source.Revision != "HEAD" || created.Spec.SyncPolicy.Interval.Duration != 3*time.Minute || *created.Spec.SyncPolicy.Retry.Limit != 5 {
		t.Errorf("defaults not applied: revision %q interval %v retry %+v", created.Spec.Source.Revision, created.Spec.SyncPolicy.Interval, created.Spec.SyncPolicy.Retry)
	}
	if created.Generation != 1 || created.UID == "" {
		t.Errorf("generation %d uid %q", created.Generation, created.UID)
	}

	bad := newApp("bad")
	bad.Spec.Source.Path = "../../etc"
	_, err = apps.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.source.path") {
		t.Errorf("invalid path: got %v, want 422 naming spec.source.path", err)
	}
	if _, err := apps.Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused Application was stored: %v", err)
	}

	created.Spec.Source.Revision = "v2"
	updated, err := apps.Update(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Generation != 2 {
		t.Errorf("spec update: generation %d, want 2", updated.Generation)
	}

	updated.Status.Sync = gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusSynced}
	updated.Status.ObservedGeneration = 2
	withStatus, err := apps.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if withStatus.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || withStatus.Generation != 2 {
		t.Errorf("status update: %+v generation %d", withStatus.Status.Sync, withStatus.Generation)
	}

	other := newApp("other")
	other.Spec.Source.RepoURL = "https://git.example.com/org/other.git"
	if _, err := apps.Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for selector, want := range map[string]string{
		"spec.source.repoURL=https://git.example.com/org/other.git": "other",
		"status.sync.status=Synced":                                 "guestbook",
	} {
		list, err := apps.List(ctx, metav1.ListOptions{FieldSelector: selector})
		if err != nil {
			t.Fatalf("list %s: %v", selector, err)
		}
		if len(list.Items) != 1 || list.Items[0].Name != want {
			t.Errorf("list %s: %d items, want only %s", selector, len(list.Items), want)
		}
	}
	if _, err := apps.List(ctx, metav1.ListOptions{FieldSelector: "spec.path=x"}); !apierrors.IsBadRequest(err) {
		t.Errorf("unsupported field selector: got %v, want 400", err)
	}

	if err := apps.Delete(ctx, "guestbook", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.Get(ctx, "guestbook", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
}

func TestWatchSeesChanges(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	apps := ts.client.GitopsV1alpha1().Applications("default")
	w, err := apps.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	app, err := apps.Create(ctx, newApp("watched"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	app.Spec.Suspend = true
	if _, err := apps.Update(ctx, app, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var seen []watch.EventType
	for len(seen) < 2 {
		select {
		case ev := <-w.ResultChan():
			got := ev.Object.(*gitopsv1alpha1.Application)
			if got.Name != "watched" {
				t.Fatalf("event for %s", got.Name)
			}
			if ev.Type == watch.Modified && !got.Spec.Suspend {
				t.Errorf("MODIFIED event lacks the change")
			}
			seen = append(seen, ev.Type)
		case <-ctx.Done():
			t.Fatalf("watch saw %v before the deadline, want ADDED and MODIFIED", seen)
		}
	}
	if seen[0] != watch.Added || seen[1] != watch.Modified {
		t.Errorf("events %v, want [ADDED MODIFIED]", seen)
	}
}

func TestServerSideApplyWithApplyConfiguration(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := context.Background()
	apps := ts.client.GitopsV1alpha1().Applications("default")
	cfg := ferryapply.Application("applied", "default").
		WithSpec(ferryapply.ApplicationSpec().
			WithSource(ferryapply.ApplicationSource().WithRepoURL("https://git.example.com/org/repo.git").WithRevision("main").WithPath("apps/a")))
	app, err := apps.Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: "alice", Force: true})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if app.Spec.Source.Path != "apps/a" || len(app.ManagedFields) == 0 || app.ManagedFields[0].Manager != "alice" {
		t.Errorf("applied app: path %q managedFields %+v", app.Spec.Source.Path, app.ManagedFields)
	}

	// Another manager changing alice's field conflicts, as server-side apply promises.
	cfg2 := ferryapply.Application("applied", "default").
		WithSpec(ferryapply.ApplicationSpec().
			WithSource(ferryapply.ApplicationSource().WithRepoURL("https://git.example.com/org/repo.git").WithRevision("other").WithPath("apps/a")))
	if _, err := apps.Apply(ctx, cfg2, metav1.ApplyOptions{FieldManager: "bob"}); !apierrors.IsConflict(err) {
		t.Errorf("bob changing alice's revision: got %v, want a conflict", err)
	}
}

func TestSyncThroughTypedClient(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := context.Background()
	apps := ts.client.GitopsV1alpha1().Applications("default")
	if _, err := apps.Create(ctx, newApp("syncme"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := apps.Sync(ctx, "syncme", &gitopsv1alpha1.ApplicationSync{Spec: gitopsv1alpha1.ApplicationSyncSpec{Prune: true}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.OperationID == "" || resp.Status.Phase != gitopsv1alpha1.OperationPending {
		t.Errorf("sync response %+v", resp.Status)
	}
	app, err := apps.Get(ctx, "syncme", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if op := app.Status.Operation; op == nil || op.ID != resp.Status.OperationID || op.RequestedBy.Username != "system:apiserver" || !op.Prune {
		t.Errorf("operation %+v: want the response's id, requested by the caller (system:apiserver)", op)
	}
	_, err = apps.Sync(ctx, "syncme", &gitopsv1alpha1.ApplicationSync{}, metav1.CreateOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("second sync while Pending: %v, want 409", err)
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	dataDir := t.TempDir()
	ts := startServer(t, dataDir)
	ctx := context.Background()
	created, err := ts.client.GitopsV1alpha1().Applications("default").Create(ctx, newApp("durable"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts.stop()

	ts2 := startServer(t, dataDir)
	got, err := ts2.client.GitopsV1alpha1().Applications("default").Get(ctx, "durable", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got.UID != created.UID || got.Spec.Source.Path != created.Spec.Source.Path {
		t.Errorf("after restart: uid %s path %s, want %s %s", got.UID, got.Spec.Source.Path, created.UID, created.Spec.Source.Path)
	}
}

func TestShutdownDoesNotWaitForOpenWatches(t *testing.T) {
	ts := startServer(t, t.TempDir())
	w, err := ts.client.GitopsV1alpha1().Applications("").Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	stopped := make(chan struct{})
	go func() { ts.stop(); close(stopped) }()
	// The request timeout is 60s; a server that waited for the watch would take that long.
	select {
	case <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("ferry-apiserver still running 30s after shutdown began, held by an open watch")
	}
}
