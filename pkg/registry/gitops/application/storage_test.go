package application_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistrytest "k8s.io/apiserver/pkg/registry/generic/testing"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:           g.config.ForResource(resource),
		Decorator:               generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          resource.Group + "/" + resource.Resource,
	}, nil
}

// newStorage returns Application storage on a real etcd started for the test.
func newStorage(t *testing.T) application.Storage {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := application.NewStorage(apiserver.Scheme, restOptionsGetter{config}, application.Options{Health: fakeHealth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Application.DestroyFunc)
	return st
}

func validApplication(namespace, name string) *gitops.Application {
	return &gitops.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"team": "a"}},
		Spec: gitops.ApplicationSpec{
			Source: gitops.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Revision: "main", Path: "apps/x"},
		},
	}
}

func TestCreate(t *testing.T) {
	st := newStorage(t)
	test := genericregistrytest.New(t, st.Application.Store)
	app := validApplication(test.TestNamespace(), "")
	app.ObjectMeta = metav1.ObjectMeta{}
	badPath := app.DeepCopy()
	badPath.Spec.Source.Path = "../escape"
	noRepo := app.DeepCopy()
	noRepo.Spec.Source.RepoURL = ""
	test.TestCreate(app, badPath, noRepo)
}

func TestUpdate(t *testing.T) {
	st := newStorage(t)
	test := genericregistrytest.New(t, st.Application.Store)
	test.TestUpdate(
		validApplication(test.TestNamespace(), "foo"),
		func(obj runtime.Object) runtime.Object {
			app := obj.(*gitops.Application)
			app.Spec.Source.Revision = "v2"
			return app
		},
		func(obj runtime.Object) runtime.Object {
			app := obj.(*gitops.Application)
			app.Spec.Source.RepoURL = "ftp://nope"
			return app
		},
	)
}

func TestDelete(t *testing.T) {
	st := newStorage(t)
	test := genericregistrytest.New(t, st.Application.Store).ReturnDeletedObject()
	test.TestDelete(validApplication(test.TestNamespace(), "foo"))
}

func TestGet(t *testing.T) {
	st := newStorage(t)
	test := genericregistrytest.New(t, st.Application.Store)
	test.TestGet(validApplication(test.TestNamespace(), "foo"))
}

func TestList(t *testing.T) {
	st := newStorage(t)
	test := genericregistrytest.New(t, st.Application.Store)
	test.TestList(validApplication(test.TestNamespace(), "foo"))
}

func TestWatch(t *testing.T) {
	st := newStorage(t)
	test := genericregistrytest.New(t, st.Application.Store)
	test.TestWatch(
		validApplication(test.TestNamespace(), "foo"),
		[]labels.Set{{"team": "a"}},
		[]labels.Set{{"team": "b"}},
		[]fields.Set{
			{"metadata.name": "foo"},
			{"spec.source.repoURL": "https://git.example.com/org/repo.git"},
			{"status.sync.status": ""},
		},
		[]fields.Set{
			{"metadata.name": "bar"},
			{"spec.source.repoURL": "https://git.example.com/other.git"},
			{"status.sync.status": "Synced"},
		},
	)
}

func ctxFor(namespace string, u user.Info) context.Context {
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), namespace)
	if u != nil {
		ctx = genericapirequest.WithUser(ctx, u)
	}
	return ctx
}

func create(t *testing.T, st application.Storage, app *gitops.Application) *gitops.Application {
	t.Helper()
	obj, err := st.Application.Create(ctxFor(app.Namespace, nil), app, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return obj.(*gitops.Application)
}

func get(t *testing.T, st application.Storage, namespace, name string) *gitops.Application {
	t.Helper()
	obj, err := st.Application.Get(ctxFor(namespace, nil), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	return obj.(*gitops.Application)
}

func update(t *testing.T, r rest.Updater, app *gitops.Application) (*gitops.Application, error) {
	t.Helper()
	obj, _, err := r.Update(ctxFor(app.Namespace, nil), app.Name, rest.DefaultUpdatedObjectInfo(app), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*gitops.Application), nil
}

func TestCreateClearsStatusAndStartsGeneration(t *testing.T) {
	st := newStorage(t)
	app := validApplication("ns", "a")
	app.Status.Sync.Status = gitops.SyncStatusSynced
	app.Generation = 7
	got := create(t, st, app)
	if got.Status.Sync.Status != "" || got.Generation != 1 {
		t.Errorf("create kept status %q / generation %d; want empty status and generation 1", got.Status.Sync.Status, got.Generation)
	}
}

func TestSpecUpdateKeepsStatusAndBumpsGeneration(t *testing.T) {
	st := newStorage(t)
	app := create(t, st, validApplication("ns", "a"))
	app.Status.Sync.Status = gitops.SyncStatusSynced
	app, err := update(t, st.Status, app)
	if err != nil {
		t.Fatal(err)
	}

	// Metadata-only change: generation stays.
	app.Annotations = map[string]string{"note": "x"}
	app.Status.Sync.Status = gitops.SyncStatusOutOfSync
	app, err = update(t, st.Application, app)
	if err != nil {
		t.Fatal(err)
	}
	if app.Generation != 1 {
		t.Errorf("an annotation change bumped generation to %d", app.Generation)
	}
	if app.Status.Sync.Status != gitops.SyncStatusSynced {
		t.Errorf("an update of the main resource changed status to %q", app.Status.Sync.Status)
	}

	app.Spec.Source.Revision = "v2"
	app, err = update(t, st.Application, app)
	if err != nil {
		t.Fatal(err)
	}
	if app.Generation != 2 || app.Spec.Source.Revision != "v2" {
		t.Errorf("spec change: generation %d revision %q; want 2 and v2", app.Generation, app.Spec.Source.Revision)
	}
}

func TestStatusUpdateKeepsSpecAndLabels(t *testing.T) {
	st := newStorage(t)
	app := create(t, st, validApplication("ns", "a"))
	app.Spec.Source.Revision = "hijacked"
	app.Labels = map[string]string{"team": "z"}
	app.Status.Sync = gitops.SyncStatus{Status: gitops.SyncStatusSynced, Revision: strings.Repeat("a", 40)}
	app.Status.ObservedGeneration = 1
	got, err := update(t, st.Status, app)
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Source.Revision != "main" || got.Labels["team"] != "a" {
		t.Errorf("status update changed spec revision to %q / labels to %v", got.Spec.Source.Revision, got.Labels)
	}
	if got.Status.Sync.Status != gitops.SyncStatusSynced || got.Generation != 1 {
		t.Errorf("status = %+v generation %d; want Synced and generation 1", got.Status.Sync, got.Generation)
	}

	bad := got.DeepCopy()
	bad.Status.Operation = &gitops.Operation{ID: "x", Phase: "Exploded"}
	if _, err := update(t, st.Status, bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.operation.phase") {
		t.Errorf("invalid status accepted or error does not name the field: %v", err)
	}
}

func TestStatusUpdateNeverCreates(t *testing.T) {
	st := newStorage(t)
	_, err := update(t, st.Status, validApplication("ns", "ghost"))
	if !apierrors.IsNotFound(err) {
		t.Errorf("status update of a missing Application: got %v, want NotFound", err)
	}
}

func syncRequest(name string, spec gitops.ApplicationSyncSpec) *gitops.ApplicationSync {
	return &gitops.ApplicationSync{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func TestSyncRecordsOperationWithAuthenticatedRequester(t *testing.T) {
	st := newStorage(t)
	before := create(t, st, validApplication("ns", "a"))
	alice := &user.DefaultInfo{Name: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"}}

	obj, err := st.Sync.Create(ctxFor("ns", alice), "a", syncRequest("a", gitops.ApplicationSyncSpec{Revision: "v1.0.0", Prune: true, DryRun: true}), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	resp := obj.(*gitops.ApplicationSync)
	if resp.Status.OperationID == "" || resp.Status.Phase != gitops.OperationPending || resp.Status.ApplicationResourceVersion == "" {
		t.Errorf("response status = %+v; want an id, Pending and the new resourceVersion", resp.Status)
	}

	app := get(t, st, "ns", "a")
	op := app.Status.Operation
	if op == nil {
		t.Fatal("no operation recorded")
	}
	if op.ID != resp.Status.OperationID || op.Phase != gitops.OperationPending || op.Revision != "v1.0.0" || !op.Prune || !op.DryRun {
		t.Errorf("operation = %+v; want the request's revision, prune and dryRun, Pending, id %s", op, resp.Status.OperationID)
	}
	if op.RequestedBy.Username != "alice" || op.RequestedBy.UID != "u-1" || len(op.RequestedBy.Groups) != 2 || op.RequestedAt.IsZero() {
		t.Errorf("requestedBy = %+v at %v; want alice with her groups", op.RequestedBy, op.RequestedAt)
	}
	if app.ResourceVersion != resp.Status.ApplicationResourceVersion {
		t.Errorf("response resourceVersion %s, stored %s", resp.Status.ApplicationResourceVersion, app.ResourceVersion)
	}
	if app.Generation != before.Generation || app.Spec.Source.Revision != before.Spec.Source.Revision {
		t.Errorf("sync changed generation or spec")
	}
}

func TestSyncConflictsWhileAnOperationIsActive(t *testing.T) {
	st := newStorage(t)
	create(t, st, validApplication("ns", "a"))
	bob := &user.DefaultInfo{Name: "bob"}
	if _, err := st.Sync.Create(ctxFor("ns", bob), "a", syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first := get(t, st, "ns", "a").Status.Operation.ID

	_, err := st.Sync.Create(ctxFor("ns", bob), "a", syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{})
	if !apierrors.IsConflict(err) {
		t.Fatalf("second sync while Pending: got %v, want 409 Conflict", err)
	}
	if got := get(t, st, "ns", "a").Status.Operation.ID; got != first {
		t.Errorf("conflicting sync replaced operation %s with %s", first, got)
	}

	// Running conflicts too; a finished operation may be replaced.
	for _, phase := range []gitops.OperationPhase{gitops.OperationRunning, gitops.OperationSucceeded} {
		app := get(t, st, "ns", "a")
		app.Status.Operation.Phase = phase
		if _, err := update(t, st.Status, app); err != nil {
			t.Fatal(err)
		}
		_, err := st.Sync.Create(ctxFor("ns", bob), "a", syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{})
		if phase == gitops.OperationRunning && !apierrors.IsConflict(err) {
			t.Errorf("sync while Running: got %v, want Conflict", err)
		}
		if phase == gitops.OperationSucceeded && err != nil {
			t.Errorf("sync after the last one Succeeded: %v", err)
		}
	}
}

func TestSyncRefusesAWrongName(t *testing.T) {
	st := newStorage(t)
	create(t, st, validApplication("ns", "a"))
	_, err := st.Sync.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "a", syncRequest("b", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) {
		t.Fatalf("body name b, URL name a: got %v, want 400 BadRequest", err)
	}
	if get(t, st, "ns", "a").Status.Operation != nil {
		t.Error("a refused sync recorded an operation")
	}
}

func TestSyncRefusesAnInvalidRequest(t *testing.T) {
	st := newStorage(t)
	create(t, st, validApplication("ns", "a"))
	_, err := st.Sync.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "a", syncRequest("a", gitops.ApplicationSyncSpec{Revision: "not a ref"}), nil, &metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.revision") {
		t.Fatalf("got %v, want Invalid naming spec.revision", err)
	}
}

func TestSyncOfAMissingApplication(t *testing.T) {
	st := newStorage(t)
	_, err := st.Sync.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "ghost", syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("got %v, want NotFound", err)
	}
}

func TestSyncDryRunLeavesStorageUnchanged(t *testing.T) {
	st := newStorage(t)
	before := create(t, st, validApplication("ns", "a"))
	obj, err := st.Sync.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "a", syncRequest("a", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run sync: %v", err)
	}
	if obj.(*gitops.ApplicationSync).Status.OperationID == "" {
		t.Error("a dry-run sync should still say what it would record")
	}
	after := get(t, st, "ns", "a")
	if after.ResourceVersion != before.ResourceVersion || after.Status.Operation != nil {
		t.Errorf("dry run wrote: resourceVersion %s -> %s, operation %+v", before.ResourceVersion, after.ResourceVersion, after.Status.Operation)
	}
}

func TestSyncRunsAdmission(t *testing.T) {
	st := newStorage(t)
	create(t, st, validApplication("ns", "a"))
	denied := apierrors.NewForbidden(gitops.Resource("applications/sync"), "a", nil)
	var seen runtime.Object
	_, err := st.Sync.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "a", syncRequest("a", gitops.ApplicationSyncSpec{Prune: true}),
		func(_ context.Context, obj runtime.Object) error { seen = obj; return denied }, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("admission denied but sync returned %v", err)
	}
	if s, ok := seen.(*gitops.ApplicationSync); !ok || !s.Spec.Prune {
		t.Errorf("admission saw %#v, want the ApplicationSync", seen)
	}
	if get(t, st, "ns", "a").Status.Operation != nil {
		t.Error("a sync denied by admission recorded an operation")
	}
}

func TestSyncRefusesASuspendedApplication(t *testing.T) {
	st := newStorage(t)
	app := validApplication("ns", "a")
	app.Spec.Suspend = true
	create(t, st, app)
	_, err := st.Sync.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "a", syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{})
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "suspend") {
		t.Fatalf("got %v, want a Conflict that mentions suspend", err)
	}
}

func TestTableColumns(t *testing.T) {
	st := newStorage(t)
	app := create(t, st, validApplication("ns", "a"))
	table, err := st.Application.ConvertToTable(ctxFor("ns", nil), app, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			names = append(names, c.Name)
		} else {
			names = append(names, "wide:"+c.Name)
		}
	}
	if got, want := strings.Join(names, ","), "Name,Revision,Sync,Health,Age,wide:Repo,wide:Path,wide:Message"; got != want {
		t.Errorf("columns = %s, want %s", got, want)
	}
	row := table.Rows[0].Cells
	if row[0] != "a" || row[1] != "main" || row[2] != "Unknown" || row[5] != app.Spec.Source.RepoURL || row[6] != "apps/x" {
		t.Errorf("row = %v", row)
	}
}

// fakeHealth stands in for the cluster: objects named "broken-*" are Degraded, "gone-*" Missing.
func fakeHealth(_ context.Context, _ *gitops.Application, ref apply.ObjectRef) health.Status {
	switch {
	case strings.HasPrefix(ref.Name, "broken-"):
		return health.Status{Code: v1alpha1.HealthDegraded, Message: "deadline exceeded"}
	case strings.HasPrefix(ref.Name, "gone-"):
		return health.Of(nil)
	}
	return health.Status{Code: v1alpha1.HealthHealthy}
}

func TestHealthIsComputedFromTheInventory(t *testing.T) {
	st := newStorage(t)
	app := create(t, st, validApplication("ns", "a"))
	app.Status.Resources = []gitops.ResourceStatus{
		{Version: "v1", Kind: "ConfigMap", Namespace: "ns", Name: "fine"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "broken-web"},
		{Version: "v1", Kind: "Service", Namespace: "ns", Name: "gone-svc"},
	}
	// The stored status says Healthy; the live reading must win.
	app.Status.Health = gitops.HealthStatus{Status: gitops.HealthHealthy}
	if _, err := update(t, st.Status, app); err != nil {
		t.Fatal(err)
	}
	obj, err := st.Health.Get(ctxFor("ns", nil), "a", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := obj.(*gitops.ApplicationHealth)
	if h.Status != gitops.HealthDegraded || h.Message != "Deployment/broken-web: deadline exceeded" {
		t.Errorf("aggregate %s %q, want Degraded naming the Deployment", h.Status, h.Message)
	}
	if h.Name != "a" || h.Namespace != "ns" || h.UID != app.UID || len(h.Resources) != 3 {
		t.Errorf("identity or resources: %+v", h)
	}
	if h.Resources[2].Status != gitops.HealthMissing || h.Resources[0].Status != gitops.HealthHealthy {
		t.Errorf("per-object health: %+v", h.Resources)
	}
	if _, err := st.Health.Get(ctxFor("ns", nil), "ghost", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("health of a missing Application: %v", err)
	}
	noCluster := application.NewHealthREST(st.Application.Store, nil)
	if _, err := noCluster.Get(ctxFor("ns", nil), "a", &metav1.GetOptions{}); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("without a target cluster: %v, want 503", err)
	}
}
