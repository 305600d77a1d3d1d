package apply_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

// requestLog counts the requests an Applier sends, by method, telling dry runs apart.
type requestLog struct {
	mu     sync.Mutex
	counts map[string]int
}

func (l *requestLog) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		kind := req.Method
		if req.URL.Query().Has("dryRun") {
			kind += " dry-run"
		}
		if strings.Contains(req.URL.Path, "/configmaps") {
			l.mu.Lock()
			l.counts[kind]++
			l.mu.Unlock()
		}
		return next.RoundTrip(req)
	})
}

func (l *requestLog) take() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.counts
	l.counts = map[string]int{}
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// countedApplier is an Applier whose ConfigMap requests are counted, and a new namespace.
func countedApplier(t *testing.T, prefix string) (*apply.Applier, *requestLog, string) {
	t.Helper()
	config := rest.CopyConfig(requireCluster(t))
	log := &requestLog{counts: map[string]int{}}
	config.Wrap(log.RoundTrip)
	a := apply.NewApplier(config)
	ns := namespace(prefix)
	if _, err := prepareAndApply(t, a, apply.App{Namespace: "default", Name: "setup"}, "", objects(t, nsDoc(ns)), apply.Options{}); err != nil {
		t.Fatal(err)
	}
	return a, log, ns
}

// currentCache is a watch cache that is always current: it reads the live ConfigMap with a
// client of its own, whose requests are not counted.
func currentCache(t *testing.T) func(apply.ObjectRef) (*unstructured.Unstructured, bool) {
	dc := dynamic.NewForConfigOrDie(requireCluster(t))
	return func(ref apply.ObjectRef) (*unstructured.Unstructured, bool) {
		live, err := dc.Resource(configMaps).Namespace(ref.Namespace).Get(context.Background(), ref.Name, metav1.GetOptions{})
		return live, err == nil
	}
}

// TestApplyJudgesExistingObjectsFromTheWatchCache applies a set of ConfigMaps again with a
// watch cache as current as the cluster: unchanged objects cost the dry run alone, a changed
// one the dry run and one apply — no read and no second dry run. A cache that lags (another
// resourceVersion) falls back to reading the object, and still applies the change.
func TestApplyJudgesExistingObjectsFromTheWatchCache(t *testing.T) {
	a, log, ns := countedApplier(t, "cached")
	app := apply.App{Namespace: "default", Name: "cached"}
	set := func(value string) []*unstructured.Unstructured {
		return objects(t, cmDoc("a", "1"), cmDoc("b", "1"), cmDoc("c", value))
	}
	if _, err := prepareAndApply(t, a, app, "", set("1"), apply.Options{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}

	// The cache: the live objects as the cluster has them now (a watch cache that is current).
	current := currentCache(t)
	snapshot := map[string]*unstructured.Unstructured{}
	for _, name := range []string{"a", "b", "c"} {
		live, _ := current(apply.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name})
		snapshot[name] = live
	}
	cached := func(ref apply.ObjectRef) (*unstructured.Unstructured, bool) {
		o, ok := snapshot[ref.Name]
		return o.DeepCopy(), ok
	}

	log.take()
	results, err := prepareAndApply(t, a, app, "", set("1"), apply.Options{DefaultNamespace: ns, Cached: cached})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/a"] != apply.Unchanged || got["ConfigMap/b"] != apply.Unchanged || got["ConfigMap/c"] != apply.Unchanged {
		t.Errorf("unchanged set: %v", got)
	}
	if got := log.take(); got["PATCH dry-run"] != 3 || len(got) != 1 {
		t.Errorf("an unchanged set of 3 sent %v; want the 3 dry runs alone", got)
	}

	results, err = prepareAndApply(t, a, app, "", set("2"), apply.Options{DefaultNamespace: ns, Cached: cached})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/a"] != apply.Unchanged || got["ConfigMap/c"] != apply.Configured {
		t.Errorf("one changed object: %v", got)
	}
	// a and b were judged Unchanged at their current resourceVersion just before: no dry run.
	if got := log.take(); got["PATCH dry-run"] != 1 || got["PATCH"] != 1 || len(got) != 2 {
		t.Errorf("a set of 3 with one change sent %v; want 1 dry run and 1 apply", got)
	}
	if live, err := get(t, configMaps, ns, "c"); err != nil || live.Object["data"].(map[string]any)["key"] != "2" {
		t.Fatalf("the change was not applied: %v %v", err, live)
	}

	// The snapshot now lags behind c: Ferry cannot judge c from it, reads it (to learn which
	// Application manages it, and fluxcd/pkg/ssa once more), and applies.
	results, err = prepareAndApply(t, a, app, "", set("3"), apply.Options{DefaultNamespace: ns, Cached: cached})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/c"] != apply.Configured || got["ConfigMap/b"] != apply.Unchanged {
		t.Errorf("with a lagging cache: %v", got)
	}
	if got := log.take(); got["GET"] != 2 || got["PATCH"] != 1 {
		t.Errorf("with a lagging cache for c: %v; want c read twice and applied once", got)
	}
	if live, err := get(t, configMaps, ns, "c"); err != nil || live.Object["data"].(map[string]any)["key"] != "3" {
		t.Fatalf("the change was not applied with a lagging cache: %v %v", err, live)
	}
}

// TestApplySkipsWhatItAppliedWhenNobodyWroteItSince: with a current watch cache, an object
// Ferry applied with the same content as the same identity, whose resourceVersion has not moved
// since, costs no request at all. A write by anyone else, new content or another identity
// brings the dry run back, and Git's version is applied again.
func TestApplySkipsWhatItAppliedWhenNobodyWroteItSince(t *testing.T) {
	a, log, ns := countedApplier(t, "memo")
	app := apply.App{Namespace: "default", Name: "memo"}
	dc := dynamic.NewForConfigOrDie(requireCluster(t))
	current := currentCache(t)
	set := func(c string) []*unstructured.Unstructured {
		return objects(t, cmDoc("a", "1"), cmDoc("b", "1"), cmDoc("c", c))
	}
	opts := apply.Options{DefaultNamespace: ns, Cached: current}
	if _, err := prepareAndApply(t, a, app, "", set("1"), opts); err != nil {
		t.Fatal(err)
	}

	log.take()
	results, err := prepareAndApply(t, a, app, "", set("1"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/a"] != apply.Unchanged || got["ConfigMap/b"] != apply.Unchanged || got["ConfigMap/c"] != apply.Unchanged {
		t.Errorf("the same set again: %v", got)
	}
	if got := log.take(); len(got) != 0 {
		t.Errorf("the same set again, nobody else writing, sent %v; want no request", got)
	}

	// Someone edits b by hand: its resourceVersion moved, so it is dry-run and Git's value put
	// back. c changes in Git: dry run and apply. a costs nothing.
	patch := []byte(`{"data":{"key":"by-hand"}}`)
	if _, err := dc.Resource(configMaps).Namespace(ns).Patch(context.Background(), "b", "application/merge-patch+json", patch, metav1.PatchOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	results, err = prepareAndApply(t, a, app, "", set("2"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/a"] != apply.Unchanged || got["ConfigMap/b"] != apply.Configured || got["ConfigMap/c"] != apply.Configured {
		t.Errorf("after a hand edit of b and a change of c: %v", got)
	}
	if got := log.take(); got["PATCH dry-run"] != 2 || got["PATCH"] != 2 || len(got) != 2 {
		t.Errorf("after a hand edit of b and a change of c: sent %v; want 2 dry runs and 2 applies", got)
	}
	for name, want := range map[string]string{"b": "1", "c": "2"} {
		if live, err := get(t, configMaps, ns, name); err != nil || live.Object["data"].(map[string]any)["key"] != want {
			t.Errorf("%s: want key %q, got %v %v", name, want, err, live)
		}
	}

	// Another identity proves nothing about what this one may write: everything is dry-run.
	results, err = prepareAndApply(t, a, app, "system:serviceaccount:default:default", set("2"), opts)
	if err == nil {
		t.Errorf("default/default applied without any permission: %v", actions(results))
	}
	if got := log.take(); got["PATCH dry-run"] != 3 {
		t.Errorf("as another identity: sent %v; want 3 dry runs", got)
	}
}
