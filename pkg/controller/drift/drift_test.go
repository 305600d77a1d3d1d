package drift

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

var stack *localstack.Stack

func TestMain(m *testing.M) {
	os.Exit(localstack.Main(m, localstack.Options{}, &stack))
}

// eventTimeout bounds every wait for a report; reports normally take milliseconds.
const eventTimeout = 30 * time.Second

var configMapGVK = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}

type event struct {
	app    apply.App
	ref    apply.ObjectRef
	change Change
	at     time.Time
}

// recorder collects the reports of one Watcher.
type recorder struct{ ch chan event }

func newRecorder() *recorder { return &recorder{ch: make(chan event, 10000)} }

func (r *recorder) onChange(app apply.App, ref apply.ObjectRef, change Change) {
	r.ch <- event{app: app, ref: ref, change: change, at: time.Now()}
}

// next returns the next report about ref, failing the test after eventTimeout. Reports about
// other objects are passed to skipped, when it is not nil, and dropped.
func (r *recorder) next(t testing.TB, ref apply.ObjectRef, skipped func(event)) event {
	t.Helper()
	timer := time.NewTimer(eventTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-r.ch:
			if ev.ref == ref {
				return ev
			}
			if skipped != nil {
				skipped(ev)
			}
		case <-timer.C:
			t.Fatalf("no report about %s within %s", ref, eventTimeout)
		}
	}
}

type cluster struct {
	kube    kubernetes.Interface
	dynamic dynamic.Interface
	watcher *Watcher
	events  *recorder
}

// setup returns clients of the local cluster and a started Watcher that watches ConfigMaps and
// has synced. It skips the test with -short.
func setup(t testing.TB) *cluster {
	t.Helper()
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	config := stack.RestConfig("admin")
	c := &cluster{events: newRecorder()}
	var err error
	if c.kube, err = kubernetes.NewForConfig(config); err != nil {
		t.Fatal(err)
	}
	if c.dynamic, err = dynamic.NewForConfig(config); err != nil {
		t.Fatal(err)
	}
	if c.watcher, err = NewWatcher(config, c.events.onChange); err != nil {
		t.Fatal(err)
	}
	c.watcher.Start(t.Context())
	if err := c.watcher.Watch(configMapGVK); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	defer cancel()
	if !c.watcher.WaitForSync(ctx, configMapGVK) {
		t.Fatal("the ConfigMap informer did not sync")
	}
	return c
}

var nsCounter atomic.Int64

// namespace creates a fresh namespace, deleted when the test ends.
func (c *cluster) namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("drift-%d-%d", time.Now().UnixNano()%100000, nsCounter.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.kube.CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

func cmRef(ns, name string) apply.ObjectRef {
	return apply.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name}
}

// managedConfigMap is a ConfigMap as Ferry applies it for app: labelled and annotated.
func managedConfigMap(app apply.App, ns, name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels:      map[string]string{apply.AppLabel: app.LabelValue()},
			Annotations: map[string]string{apply.TrackingAnnotation: apply.TrackingID(app, cmRef(ns, name))},
		},
		Data: map[string]string{"key": "v0"},
	}
}

func (c *cluster) create(t testing.TB, cm *corev1.ConfigMap) {
	t.Helper()
	if _, err := c.kube.CoreV1().ConfigMaps(cm.Namespace).Create(t.Context(), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestReportsAddUpdateDelete covers create, a kubectl edit, delete, and Get along the way.
func TestReportsAddUpdateDelete(t *testing.T) {
	c := setup(t)
	ns := c.namespace(t)
	app := apply.App{Namespace: "team-a", Name: "web"}
	ref := cmRef(ns, "settings")

	c.create(t, managedConfigMap(app, ns, "settings"))
	if ev := c.events.next(t, ref, nil); ev.app != app {
		t.Fatalf("create reported for %v, want %v", ev.app, app)
	}
	live, ok := c.watcher.Get(ref)
	if !ok {
		t.Fatal("Get: the created ConfigMap is not in the cache")
	}
	if got, _, _ := unstructured.NestedString(live.Object, "data", "key"); got != "v0" {
		t.Errorf("Get: data.key = %q, want v0", got)
	}
	entries, _, _ := unstructured.NestedSlice(live.Object, "metadata", "managedFields")
	for _, e := range entries {
		if _, found := e.(map[string]any)["fieldsV1"]; found {
			t.Error("Get: the field sets of managedFields were not dropped")
		}
	}

	// An edit by hand, with the real kubectl.
	out, err := exec.CommandContext(t.Context(), stack.Kubectl(), "--kubeconfig", stack.Kubeconfig(),
		"-n", ns, "patch", "configmap", "settings", "--type=merge", "-p", `{"data":{"key":"edited"}}`).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, out)
	}
	if ev := c.events.next(t, ref, nil); ev.app != app {
		t.Fatalf("edit reported for %v, want %v", ev.app, app)
	}
	live, _ = c.watcher.Get(ref)
	if got, _, _ := unstructured.NestedString(live.Object, "data", "key"); got != "edited" {
		t.Errorf("Get after the edit: data.key = %q, want edited", got)
	}
	// What Get returns is a copy.
	live.SetLabels(nil)
	if again, _ := c.watcher.Get(ref); again.GetLabels()[apply.AppLabel] == "" {
		t.Error("changing what Get returned changed the cache")
	}

	if err := c.kube.CoreV1().ConfigMaps(ns).Delete(t.Context(), "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if ev := c.events.next(t, ref, nil); ev.app != app {
		t.Fatalf("delete reported for %v, want %v", ev.app, app)
	}
	if _, ok := c.watcher.Get(ref); ok {
		t.Error("Get: the deleted ConfigMap is still in the cache")
	}
}

// TestIgnoresUnmanaged creates objects Ferry does not manage, then a managed marker: events
// of one kind arrive in order, so anything reported about the others comes before the marker.
func TestIgnoresUnmanaged(t *testing.T) {
	c := setup(t)
	ns := c.namespace(t)
	app := apply.App{Namespace: "team-a", Name: "web"}

	unlabelled := managedConfigMap(app, ns, "unlabelled")
	unlabelled.Labels = nil
	noAnnotation := managedConfigMap(app, ns, "no-annotation")
	noAnnotation.Annotations = nil
	malformed := managedConfigMap(app, ns, "malformed")
	malformed.Annotations[apply.TrackingAnnotation] = "web"
	copied := managedConfigMap(app, ns, "copied")
	copied.Annotations[apply.TrackingAnnotation] = apply.TrackingID(app, cmRef(ns, "original"))
	for _, cm := range []*corev1.ConfigMap{unlabelled, noAnnotation, malformed, copied} {
		c.create(t, cm)
	}
	c.create(t, managedConfigMap(app, ns, "marker"))

	c.events.next(t, cmRef(ns, "marker"), func(ev event) {
		if ev.ref.Namespace == ns {
			t.Errorf("reported %s for %v; it is not managed", ev.ref, ev.app)
		}
	})
	if _, ok := c.watcher.Get(cmRef(ns, "unlabelled")); ok {
		t.Error("Get found an object without the label")
	}
	if _, ok := c.watcher.Get(cmRef(ns, "marker")); !ok {
		t.Error("Get did not find the marker")
	}
}

// TestOwnerFromAnnotation checks the owner comes from the annotation, not the label, and that
// an annotation moved from one Application to another is reported to both.
func TestOwnerFromAnnotation(t *testing.T) {
	c := setup(t)
	ns := c.namespace(t)
	a := apply.App{Namespace: "team-a", Name: "a"}
	b := apply.App{Namespace: "team-b", Name: "b"}
	ref := cmRef(ns, "shared")

	cm := managedConfigMap(a, ns, "shared")
	cm.Labels[apply.AppLabel] = b.LabelValue()
	c.create(t, cm)
	if ev := c.events.next(t, ref, nil); ev.app != a {
		t.Fatalf("reported for %v, want %v (the annotation's)", ev.app, a)
	}

	live, err := c.kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	live.Annotations[apply.TrackingAnnotation] = apply.TrackingID(b, ref)
	if _, err := c.kube.CoreV1().ConfigMaps(ns).Update(t.Context(), live, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := []apply.App{c.events.next(t, ref, nil).app, c.events.next(t, ref, nil).app}
	if !slices.Contains(got, a) || !slices.Contains(got, b) {
		t.Errorf("moving the object from a to b reported %v, want both", got)
	}
}

// TestCRDCreatedLater watches a kind whose CRD did not exist when discovery was first read.
func TestCRDCreatedLater(t *testing.T) {
	c := setup(t) // has read discovery already, to map ConfigMaps
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	const group, plural = "drift.test.ferry.dev", "gadgets"
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": plural + "." + group},
		"spec": map[string]any{
			"group": group,
			"scope": "Cluster",
			"names": map[string]any{"plural": plural, "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type":                                 "object",
					"x-kubernetes-preserve-unknown-fields": true,
				}},
			}},
		},
	}}
	if _, err := c.dynamic.Resource(crdGVR).Create(t.Context(), crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.dynamic.Resource(crdGVR).Delete(context.Background(), crd.GetName(), metav1.DeleteOptions{})
	})
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, eventTimeout, true, func(ctx context.Context) (bool, error) {
		live, err := c.dynamic.Resource(crdGVR).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		conditions, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, cond := range conditions {
			m, _ := cond.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the CRD to be established: %v", err)
	}

	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: "Gadget"}
	// Discovery may trail the Established condition by a moment; each attempt refreshes it.
	attempts := 0
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, eventTimeout, true, func(context.Context) (bool, error) {
		attempts++
		return c.watcher.Watch(gvk) == nil, nil
	})
	if err != nil {
		t.Fatalf("Watch(%s) kept failing: %v", gvk, c.watcher.Watch(gvk))
	}
	t.Logf("Watch(%s) succeeded on attempt %d", gvk, attempts)
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	defer cancel()
	if !c.watcher.WaitForSync(ctx, gvk) {
		t.Fatal("the Gadget informer did not sync")
	}

	app := apply.App{Namespace: "team-a", Name: "gadgets"}
	ref := apply.ObjectRef{Group: group, Version: "v1", Kind: "Gadget", Name: "g1"}
	cr := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"size": int64(3)}}}
	cr.SetGroupVersionKind(gvk)
	cr.SetName("g1")
	cr.SetLabels(map[string]string{apply.AppLabel: app.LabelValue()})
	cr.SetAnnotations(map[string]string{apply.TrackingAnnotation: apply.TrackingID(app, ref)})
	gadgets := c.dynamic.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: plural})
	if _, err := gadgets.Create(t.Context(), cr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gadgets.Delete(context.Background(), "g1", metav1.DeleteOptions{}) })
	if ev := c.events.next(t, ref, nil); ev.app != app {
		t.Fatalf("reported for %v, want %v", ev.app, app)
	}
	if _, ok := c.watcher.Get(ref); !ok {
		t.Error("Get did not find the cluster-scoped custom resource")
	}
}

// TestUnservedKind checks Watch names the kind it cannot watch and still watches the others.
func TestUnservedKind(t *testing.T) {
	c := setup(t)
	missing := schema.GroupVersionKind{Group: "nope.ferry.dev", Version: "v1", Kind: "Nothing"}
	secret := schema.GroupVersionKind{Version: "v1", Kind: "Secret"}
	err := c.watcher.Watch(configMapGVK, missing, secret)
	if err == nil {
		t.Fatal("Watch of a kind the cluster does not serve succeeded")
	}
	if !strings.Contains(err.Error(), "Nothing.v1.nope.ferry.dev") || strings.Contains(err.Error(), "Secret") {
		t.Errorf("error %q should name Nothing.v1.nope.ferry.dev and nothing else", err)
	}
	if !meta.IsNoMatchError(err) {
		t.Errorf("error %q is not a no-match error", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	defer cancel()
	if !c.watcher.WaitForSync(ctx, secret) {
		t.Error("the kind served alongside the missing one is not watched")
	}
	if c.watcher.WaitForSync(ctx, missing) {
		t.Error("WaitForSync of an unwatched kind returned true")
	}
}

// TestConcurrentWatch calls Watch from many goroutines: each kind gets exactly one informer.
func TestConcurrentWatch(t *testing.T) {
	c := setup(t)
	kinds := []schema.GroupVersionKind{
		configMapGVK,
		{Version: "v1", Kind: "Service"},
		{Version: "v1", Kind: "ServiceAccount"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			// Each goroutine asks for the kinds in another order, with duplicates.
			ask := append(slices.Clone(kinds[i%len(kinds):]), kinds...)
			if err := c.watcher.Watch(ask...); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := c.watcher.Watched(); len(got) != len(kinds) {
		t.Errorf("watching %d kinds, want %d: %v", len(got), len(kinds), got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	defer cancel()
	if !c.watcher.WaitForSync(ctx, kinds...) {
		t.Error("not every informer synced")
	}
}

// BenchmarkDriftLatency measures how long a hand edit of a managed object takes to reach the
// watcher's callback, from the update's response and from its call (custom metrics); ns/op is
// the whole round of read, update and report.
// It needs the local control plane: go test -run '^$' -bench DriftLatency ./pkg/controller/drift/
func BenchmarkDriftLatency(b *testing.B) {
	c := setup(b)
	ns := c.namespace(b)
	app := apply.App{Namespace: "team-a", Name: "latency"}
	ref := cmRef(ns, "edited")
	c.create(b, managedConfigMap(app, ns, "edited"))
	c.events.next(b, ref, nil)

	cms := c.kube.CoreV1().ConfigMaps(ns)
	var fromReturn, fromCall time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		live, err := cms.Get(b.Context(), "edited", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		live.Data["key"] = fmt.Sprint(i)
		called := time.Now()
		if _, err := cms.Update(b.Context(), live, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		ev := c.events.next(b, ref, nil)
		fromReturn += ev.at.Sub(returned)
		fromCall += ev.at.Sub(called)
	}
	b.ReportMetric(float64(fromReturn.Nanoseconds())/float64(b.N), "ns-after-response/op")
	b.ReportMetric(float64(fromCall.Nanoseconds())/float64(b.N), "ns-after-call/op")
}

func TestParseTrackingID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		app  apply.App
		ref  apply.ObjectRef
		okay bool
	}{
		{"team-a/web:/ConfigMap:prod/settings", apply.App{Namespace: "team-a", Name: "web"},
			apply.ObjectRef{Kind: "ConfigMap", Namespace: "prod", Name: "settings"}, true},
		{"team-a/web:rbac.authorization.k8s.io/ClusterRole:/system:web:reader", apply.App{Namespace: "team-a", Name: "web"},
			apply.ObjectRef{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:web:reader"}, true},
		{"", apply.App{}, apply.ObjectRef{}, false},
		{"web", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web:", apply.App{}, apply.ObjectRef{}, false},
		{"/web:/ConfigMap:prod/settings", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/:/ConfigMap:prod/settings", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web:ConfigMap:prod/settings", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web:/:prod/settings", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web:/ConfigMap:prod/", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web:/ConfigMap:settings", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web/x:/ConfigMap:prod/settings", apply.App{}, apply.ObjectRef{}, false},
		{"team-a/web:/ConfigMap:prod/a/b", apply.App{}, apply.ObjectRef{}, false},
	} {
		app, ref, ok := parseTrackingID(tc.in)
		if ok != tc.okay || app != tc.app || ref != tc.ref {
			t.Errorf("parseTrackingID(%q) = %v, %v, %v; want %v, %v, %v", tc.in, app, ref, ok, tc.app, tc.ref, tc.okay)
		}
	}
	// It inverts apply.TrackingID.
	app := apply.App{Namespace: "ns", Name: "app"}
	ref := apply.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "prod", Name: "web"}
	if gotApp, gotRef, ok := parseTrackingID(apply.TrackingID(app, ref)); !ok || gotApp != app || gotRef != ref {
		t.Errorf("parseTrackingID(TrackingID(%v, %v)) = %v, %v, %v", app, ref, gotApp, gotRef, ok)
	}
}

// TestTellsFerrysWritesFromDrift: Ferry's own applies (creation included) are reported as
// StatusChanged, so a sync's echo does not start a compare; an edit by anyone else is drift.
func TestTellsFerrysWritesFromDrift(t *testing.T) {
	c := setup(t)
	ns := c.namespace(t)
	app := apply.App{Namespace: "team-a", Name: "web"}
	ref := cmRef(ns, "settings")
	configMaps := c.dynamic.Resource(corev1.SchemeGroupVersion.WithResource("configmaps")).Namespace(ns)
	ferryApply := func(value string) {
		t.Helper()
		cm := managedConfigMap(app, ns, "settings")
		cm.Data["key"] = value
		obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: obj}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		if _, err := configMaps.Apply(t.Context(), "settings", u, metav1.ApplyOptions{FieldManager: apply.FieldManager, Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(what string, want Change) {
		t.Helper()
		if ev := c.events.next(t, ref, nil); ev.change != want {
			t.Errorf("%s reported as %s, want %s", what, ev.change, want)
		}
	}

	// managedFields record the time of a write to the second: writes of one manager within the
	// same second cannot be told apart, and are reported as drift. Step over second boundaries
	// (a write minutes after the last is what a sync or a heal sees).
	nextSecond := func() { time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second))) }

	ferryApply("v1")
	expect("Ferry creating the object", StatusChanged)
	nextSecond()
	ferryApply("v2")
	expect("Ferry applying a change", StatusChanged)
	nextSecond()
	out, err := exec.CommandContext(t.Context(), stack.Kubectl(), "--kubeconfig", stack.Kubeconfig(),
		"-n", ns, "patch", "configmap", "settings", "--type=merge", "-p", `{"data":{"key":"edited"}}`).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl patch: %v\n%s", err, out)
	}
	expect("an edit with kubectl", Drifted)
	nextSecond()
	ferryApply("v2")
	expect("Ferry healing the edit", StatusChanged)
	if err := configMaps.Delete(t.Context(), "settings", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect("a deletion", Drifted)
}

func TestClassify(t *testing.T) {
	obj := func(data string, status any, entries ...map[string]any) *unstructured.Unstructured {
		fields := make([]any, len(entries))
		for i, e := range entries {
			fields[i] = e
		}
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "resourceVersion": data + fmt.Sprint(status), "managedFields": fields},
			"spec":     map[string]any{"paused": data},
		}}
		if status != nil {
			u.Object["status"] = status
		}
		return u
	}
	entry := func(manager, subresource, at string) map[string]any {
		e := map[string]any{"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": at}
		if manager == apply.FieldManager {
			e["operation"] = "Apply"
		}
		if subresource != "" {
			e["subresource"] = subresource
		}
		return e
	}
	ferry := entry(apply.FieldManager, "", "2026-11-26T09:00:00Z")
	ferryLater := entry(apply.FieldManager, "", "2026-11-26T09:00:05Z")
	kcm := entry("kube-controller-manager", "status", "2026-11-26T09:00:01Z")
	user := entry("kubectl-edit", "", "2026-11-26T09:00:02Z")
	for _, tc := range []struct {
		name     string
		old, cur *unstructured.Unstructured
		want     Change
	}{
		{"status only", obj("a", nil, ferry), obj("a", map[string]any{"replicas": int64(1)}, ferry, kcm), StatusChanged},
		{"Ferry's apply", obj("a", nil, ferry), obj("b", nil, ferryLater), StatusChanged},
		{"an edit by hand", obj("a", nil, ferry), obj("b", nil, ferry, user), Drifted},
		{"Ferry's apply after an edit", obj("b", nil, ferry, user), obj("a", nil, ferryLater, user), StatusChanged},
		{"no telling who", obj("a", nil, ferry), obj("b", nil, ferry), Drifted},
		{"created by Ferry", nil, obj("a", nil, ferry), StatusChanged},
		{"created by someone else", nil, obj("a", nil, user), Drifted},
		{"no managedFields", nil, obj("a", nil), Drifted},
	} {
		var old any
		if tc.old != nil {
			old = tc.old
		}
		if got := classify(old, tc.cur); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
