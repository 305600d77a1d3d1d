package application

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/drift"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// stack is the real cluster the behaviour tests deploy into: the one `make test` shares, or one
// of this package's own. Nil with -short.
var stack *localstack.Stack

func TestMain(m *testing.M) {
	os.Exit(localstack.Main(m, localstack.Options{}, &stack))
}

// appNamespace holds the test Applications. They name no ServiceAccount, so they act as Ferry's
// identity, here the cluster's admin.
const appNamespace = "team-a"

var nsCounter atomic.Int64

// fixture is one controller, as ferry-apiserver runs it, between a fake Ferry API (the
// sample-controller style: Applications are set up and changed directly, with no registry) and
// the real cluster, deploying from a real Git server on 127.0.0.1.
type fixture struct {
	t     *testing.T
	ferry *fake.Clientset
	kube  kubernetes.Interface
	git   *gittest.Server
	repo  *gittest.Repo
	// dest is a namespace made for the test; Applications deploy into it.
	dest string
	// clusters are the remote clusters the engine knows; tests register some.
	clusters *remote.Registry
	ctrl     *Controller
	cfg      *rest.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, nil)
}

// newFixtureWith is newFixture with the controller's configuration changed by configure.
func newFixtureWith(t *testing.T, configure func(*Config)) *fixture {
	t.Helper()
	if stack == nil {
		t.Skip("needs the local control plane (etcd, kube-apiserver); skipped with -short")
	}
	cfg := stack.RestConfig("admin")
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, kube: kube, cfg: cfg, dest: fmt.Sprintf("ctrl-%d-%d", time.Now().UnixNano()%100000, nsCounter.Add(1))}
	if _, err := kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.dest}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), f.dest, metav1.DeleteOptions{}) })
	// The Applications' own namespace, where their Events go.
	if _, err := kube.CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	f.git = gittest.NewServer(t)
	f.repo = f.git.NewRepo("apps")

	cache, err := source.NewCache(source.Options{Dir: t.TempDir(), Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Remote bases allowed for remote_test.go; no other test names one.
	f.clusters = remote.NewRegistry(cfg.QPS, cfg.Burst)
	eng := engine.New(engine.Config{Source: cache, Applier: apply.NewApplier(cfg), AllowRemoteBases: true, Clusters: f.clusters})
	// The simple tracker: NewClientset's field-managed one has no schema for Application.
	f.ferry = fake.NewSimpleClientset() //nolint:staticcheck
	f.ferry.PrependReactor("update", "applications", statusOnly(f.ferry))
	// Registered after statusOnly, so it runs first: each write gets a new resourceVersion.
	f.ferry.PrependReactor("*", "applications", stampResourceVersion())
	var ctrl *Controller
	onChange := func(app apply.App, ref apply.ObjectRef, change drift.Change) {
		ctrl.ObjectChanged(app, ref, change)
	}
	watcher, err := drift.NewWatcher(cfg, onChange)
	if err != nil {
		t.Fatal(err)
	}
	fleet := drift.NewFleet(watcher, f.clusters.Config, onChange)
	cc := Config{Ferry: f.ferry, Kube: kube, Engine: eng, Workers: 2, Live: fleet}
	if configure != nil {
		configure(&cc)
	}
	ctrl = New(cc)
	f.ctrl = ctrl
	ctx, cancel := context.WithCancel(context.Background())
	fleet.Start(ctx)
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the controller stopped with %v", err)
		}
	})
	return f
}

// statusOnly makes an update of applications/status change the status alone, as the API
// server's status strategy does. The fake tracker stores the whole object it is given, so a
// status write made from a copy read before a user's change would undo that change (a spec edit,
// a deletionTimestamp).
func statusOnly(client *fake.Clientset) clienttesting.ReactionFunc {
	gvr := gitopsv1alpha1.SchemeGroupVersion.WithResource("applications")
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "status" {
			return false, nil, nil
		}
		in := action.(clienttesting.UpdateAction).GetObject().(*gitopsv1alpha1.Application)
		stored, err := client.Tracker().Get(gvr, in.Namespace, in.Name)
		if err != nil {
			return true, nil, err
		}
		out := stored.(*gitopsv1alpha1.Application).DeepCopy()
		// A status write from a copy older than the stored object is refused, as the API server
		// refuses it: written anyway, it would undo a sync request made meanwhile.
		if base := in.Annotations[baseVersionAnnotation]; base != "" && base != out.ResourceVersion {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), in.Name, fmt.Errorf("the object has been modified; resourceVersion %s, written from %s", out.ResourceVersion, base))
		}
		out.Status = in.Status
		out.ResourceVersion = in.ResourceVersion
		return true, out, client.Tracker().Update(gvr, out, in.Namespace)
	}
}

// baseVersionAnnotation carries, from stampResourceVersion to statusOnly, the resourceVersion a
// write was made from. Neither the tracker nor the objects a test reads ever hold it.
const baseVersionAnnotation = "test.ferry.dev/base-resource-version"

// stampResourceVersion gives each create and update of an Application a new resourceVersion, as
// the API server does (the fake tracker keeps its own count but leaves the field empty), and
// hands statusOnly the version the write was made from.
func stampResourceVersion() clienttesting.ReactionFunc {
	var next atomic.Int64
	return func(action clienttesting.Action) (bool, runtime.Object, error) {
		// Creates and updates both carry the object written.
		write, ok := action.(interface{ GetObject() runtime.Object })
		if !ok {
			return false, nil, nil
		}
		app, ok := write.GetObject().(*gitopsv1alpha1.Application)
		if !ok {
			return false, nil, nil
		}
		if action.GetSubresource() == "status" && app.ResourceVersion != "" {
			if app.Annotations == nil {
				app.Annotations = map[string]string{}
			}
			app.Annotations[baseVersionAnnotation] = app.ResourceVersion
		}
		app.ResourceVersion = strconv.FormatInt(next.Add(1), 10)
		return false, nil, nil
	}
}

// commit puts files under the path the fixture's Applications deploy (app/) and returns the SHA.
func (f *fixture) commit(files map[string]string) string {
	f.t.Helper()
	under := map[string]string{}
	for p, content := range files {
		under["app/"+p] = content
	}
	return f.repo.Commit("main", under, "change")
}

// create stores an Application deploying app/ of the fixture's repository at main into dest,
// checked every second, changed by mutate.
func (f *fixture) create(name string, mutate func(*gitopsv1alpha1.Application)) {
	f.t.Helper()
	app := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: appNamespace, Name: name, Generation: 1, UID: types.UID("uid-" + name)},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: f.repo.URL(), Path: "app", Revision: "main"},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: f.dest},
			SyncPolicy: gitopsv1alpha1.SyncPolicy{
				Automated: &gitopsv1alpha1.AutomatedSyncPolicy{},
				Interval:  &metav1.Duration{Duration: time.Second},
			},
		},
	}
	if mutate != nil {
		mutate(app)
	}
	if _, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).Create(f.t.Context(), app, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) get(name string) *gitopsv1alpha1.Application {
	f.t.Helper()
	app, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).Get(f.t.Context(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return app
}

// update changes an Application as a user would: a spec change bumps the generation.
func (f *fixture) update(name string, mutate func(*gitopsv1alpha1.Application)) {
	f.t.Helper()
	for {
		app := f.get(name)
		mutate(app)
		app.Generation++
		_, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).Update(f.t.Context(), app, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			f.t.Fatal(err)
		}
		return
	}
}

// requestSync stores a pending operation, as the applications/sync subresource does.
func (f *fixture) requestSync(name, id string, spec gitopsv1alpha1.ApplicationSyncSpec) {
	f.t.Helper()
	for {
		app := f.get(name)
		app.Status.Operation = &gitopsv1alpha1.Operation{
			ID: id, Phase: gitopsv1alpha1.OperationPending, Revision: spec.Revision, Prune: spec.Prune,
			DryRun: spec.DryRun, Resources: spec.Resources,
			RequestedBy: gitopsv1alpha1.RequestedBy{Username: "alice"}, RequestedAt: metav1.Now(),
		}
		_, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).UpdateStatus(f.t.Context(), app, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			f.t.Fatal(err)
		}
		return
	}
}

// waitFor polls the Application until cond holds.
func (f *fixture) waitFor(name, what string, cond func(*gitopsv1alpha1.Application) bool) *gitopsv1alpha1.Application {
	f.t.Helper()
	var app *gitopsv1alpha1.Application
	eventually.Until(f.t, 60*time.Second, 100*time.Millisecond, name+": "+what, func() (bool, string) {
		app = f.get(name)
		return cond(app), describe(app)
	})
	return app
}

// synced is "Synced at sha".
func synced(sha string) func(*gitopsv1alpha1.Application) bool {
	return func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Sync.Revision == sha
	}
}

func describe(app *gitopsv1alpha1.Application) string {
	s := fmt.Sprintf("sync %s at %.7s (source %.7s), finalizers %v", app.Status.Sync.Status, app.Status.Sync.Revision, app.Status.SourceRevision, app.Finalizers)
	if op := app.Status.Operation; op != nil {
		s += fmt.Sprintf(", operation %s %s %q", op.ID, op.Phase, op.Message)
	}
	for _, c := range app.Status.Conditions {
		s += fmt.Sprintf("; %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
	return s
}

// configMap is a ConfigMap manifest with one key.
func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

// liveValue is the value key of a ConfigMap in dest, or "" when it does not exist.
func (f *fixture) liveValue(name string) (string, bool) {
	f.t.Helper()
	cm, err := f.kube.CoreV1().ConfigMaps(f.dest).Get(f.t.Context(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return cm.Data["value"], true
}

// waitLive polls until the ConfigMap name exists with value, or with exists=false is gone.
func (f *fixture) waitLive(name, value string, exists bool) {
	f.t.Helper()
	eventually.Until(f.t, 60*time.Second, 100*time.Millisecond, fmt.Sprintf("ConfigMap %s/%s exists=%v value %q", f.dest, name, exists, value), func() (bool, string) {
		got, ok := f.liveValue(name)
		return ok == exists && (!exists || got == value), fmt.Sprintf("exists=%v value %q", ok, got)
	})
}
