// Package drift watches every object Ferry manages, so that a change made behind Ferry's back
// reaches the owning Application within seconds instead of on its next poll. It keeps one
// dynamic informer per kind, restricted by label selector to objects that carry
// apply.AppLabel, so memory grows with what Ferry manages and not with the cluster; the
// owning Application is read from each object's tracking annotation.
package drift

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

// Watcher keeps label-selected dynamic informers (selector: apply.AppLabel exists) on every
// kind Ferry manages, and reports each change of a managed object to the Application that owns
// it. All methods are safe for concurrent use.
type Watcher struct {
	client   dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	onChange func(apply.App, apply.ObjectRef, Change)

	// discoveryGen counts discovery resets, so that concurrent lookups of a kind the cached
	// discovery does not know cause one reset, not one each.
	discoveryGen atomic.Uint64
	resetMu      sync.Mutex

	mu    sync.RWMutex
	kinds map[schema.GroupVersionKind]*kindWatch
	ctx   context.Context // set by Start; nil before
}

// kindWatch is the informer of one kind.
type kindWatch struct {
	gvk        schema.GroupVersionKind
	namespaced bool
	informer   cache.SharedIndexInformer
	// synced is done once the informer has listed and our handler has seen every listed object.
	synced cache.DoneChecker
}

// Change says what a reported event may mean for the owning Application.
type Change int

const (
	// Drifted: someone other than Ferry changed or deleted the object, so it may no longer be
	// what Git says; the Application must be compared again.
	Drifted Change = iota
	// StatusChanged: only the object's status changed, or the change was Ferry's own apply.
	// What Git says still holds; only the health may differ.
	StatusChanged
)

func (c Change) String() string {
	if c == StatusChanged {
		return "StatusChanged"
	}
	return "Drifted"
}

// NewWatcher returns a Watcher of the cluster of config that calls onChange for every add,
// update and delete of a managed object, with the Application named by the object's tracking
// annotation, the object's reference (Version is the version the kind is watched at) and what
// kind of change it was. Updates that leave resourceVersion unchanged are not reported.
// onChange is called from the
// informers' goroutines, one per kind, in event order for each kind; it must return quickly
// (add to a work queue, say). Nothing is watched until Watch names kinds.
//
// The identity of config needs list and watch on every kind it is asked to watch, cluster-wide.
func NewWatcher(config *rest.Config, onChange func(app apply.App, ref apply.ObjectRef, change Change)) (*Watcher, error) {
	if onChange == nil {
		return nil, errors.New("drift: onChange is nil")
	}
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("drift: building a discovery client: %w", err)
	}
	// Watches are long requests: a client timeout would cut every one of them short.
	watchConfig := rest.CopyConfig(config)
	watchConfig.Timeout = 0
	client, err := dynamic.NewForConfig(watchConfig)
	if err != nil {
		return nil, fmt.Errorf("drift: building a dynamic client: %w", err)
	}
	return &Watcher{
		client:   client,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disco)),
		onChange: onChange,
		kinds:    map[schema.GroupVersionKind]*kindWatch{},
	}, nil
}

// Start starts the informers of the kinds watched so far and returns; informers of kinds
// added later by Watch start at once. Every informer stops when ctx is done, and Watch then
// starts no more. Calls after the first do nothing.
func (w *Watcher) Start(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx != nil {
		return
	}
	w.ctx = ctx
	for _, k := range w.kinds {
		go k.informer.RunWithContext(ctx)
	}
}

// Watch ensures an informer exists for each kind. It is cheap when every kind is already
// watched. A kind the cached discovery does not know is looked up again after one refresh of
// discovery, so kinds whose CustomResourceDefinition was created since are found. The error
// names every kind that could not be watched; the other kinds are watched all the same.
// A kind is watched at the version given: two versions of one kind are two informers.
func (w *Watcher) Watch(gvks ...schema.GroupVersionKind) error {
	w.mu.RLock()
	missing := w.missing(gvks)
	w.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	var errs []error
	for _, gvk := range missing {
		mapping, err := w.restMapping(gvk)
		if err != nil {
			errs = append(errs, fmt.Errorf("cannot watch %s: %w", describe(gvk), err))
			continue
		}
		if err := w.add(gvk, mapping); err != nil {
			errs = append(errs, fmt.Errorf("cannot watch %s: %w", describe(gvk), err))
		}
	}
	return errors.Join(errs...)
}

// missing returns the kinds of gvks that have no informer, each once. The caller holds w.mu.
func (w *Watcher) missing(gvks []schema.GroupVersionKind) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for i, gvk := range gvks {
		if _, ok := w.kinds[gvk]; ok {
			continue
		}
		dup := false
		for _, prev := range gvks[:i] {
			dup = dup || prev == gvk
		}
		if !dup {
			out = append(out, gvk)
		}
	}
	return out
}

// restMapping maps a kind to its resource, refreshing discovery once when the kind is unknown.
func (w *Watcher) restMapping(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	gen := w.discoveryGen.Load()
	mapping, err := w.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !meta.IsNoMatchError(err) {
		return mapping, err
	}
	w.resetDiscovery(gen)
	return w.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// resetDiscovery drops the cached discovery, unless it was dropped since generation seen was
// current: discovery read after that reset is at least as new as the caller's failed lookup.
func (w *Watcher) resetDiscovery(seen uint64) {
	w.resetMu.Lock()
	defer w.resetMu.Unlock()
	if w.discoveryGen.Load() != seen {
		return
	}
	w.mapper.Reset()
	w.discoveryGen.Add(1)
}

// add creates and, once the Watcher has started, starts the informer of one kind.
func (w *Watcher) add(gvk schema.GroupVersionKind, mapping *meta.RESTMapping) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.kinds[gvk]; ok {
		return nil // a concurrent Watch was first
	}
	if w.ctx != nil && w.ctx.Err() != nil {
		return errors.New("the watcher has stopped")
	}
	informer := dynamicinformer.NewFilteredDynamicInformer(w.client, mapping.Resource, metav1.NamespaceAll, 0, cache.Indexers{},
		func(o *metav1.ListOptions) { o.LabelSelector = apply.AppLabel }).Informer()
	// Of managedFields, often the larger part of an object, only who wrote when is kept: it
	// tells Ferry's own writes from drift.
	_ = informer.SetTransform(trimManagedFields)
	k := &kindWatch{gvk: gvk, namespaced: mapping.Scope.Name() == meta.RESTScopeNameNamespace, informer: informer}
	reg, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { w.report(k, nil, obj, classify(nil, obj)) },
		UpdateFunc: func(oldObj, newObj any) {
			if resourceVersion(oldObj) != resourceVersion(newObj) {
				w.report(k, oldObj, newObj, classify(oldObj, newObj))
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			w.report(k, nil, obj, Drifted)
		},
	})
	if err != nil {
		return err // only a stopped informer refuses handlers, and this one has not run
	}
	k.synced = reg.HasSyncedChecker()
	w.kinds[gvk] = k
	if w.ctx != nil {
		go informer.RunWithContext(w.ctx)
	}
	return nil
}

// trimManagedFields drops the field sets of managedFields, keeping manager, operation,
// subresource and time of every entry.
func trimManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok && u.Object != nil {
		if md, ok := u.Object["metadata"].(map[string]any); ok {
			if entries, ok := md["managedFields"].([]any); ok {
				for _, e := range entries {
					if e, ok := e.(map[string]any); ok {
						delete(e, "fieldsV1")
					}
				}
			}
		}
	}
	return obj, nil
}

// classify tells drift from changes that cannot have moved the object away from Git: status
// written by its controller, and Ferry's own applies (whose echo would otherwise start a
// compare of the whole Application after every sync). Whatever it cannot tell apart is drift:
// a missed drift would go unreported, an extra compare only costs a dry run.
func classify(old, cur any) Change {
	u, ok := cur.(*unstructured.Unstructured)
	if !ok {
		return Drifted
	}
	o, _ := old.(*unstructured.Unstructured)
	if o != nil && equality.Semantic.DeepEqual(withoutStatus(o), withoutStatus(u)) {
		return StatusChanged
	}
	// The writers of this change are the managedFields entries that are new or have a new
	// time; on an add, the entries of the latest time.
	var writers []map[string]any
	if o == nil {
		writers = latestEntries(u)
	} else {
		before := map[string]bool{}
		for _, e := range managedEntries(o) {
			before[entryKey(e)] = true
		}
		for _, e := range managedEntries(u) {
			if !before[entryKey(e)] {
				writers = append(writers, e)
			}
		}
	}
	if len(writers) == 0 {
		// Written twice by the same manager within one second: no telling who.
		return Drifted
	}
	for _, e := range writers {
		if e["manager"] != apply.FieldManager && e["subresource"] != "status" {
			return Drifted
		}
	}
	return StatusChanged
}

// withoutStatus is obj without what changes on every write or belongs to status.
func withoutStatus(u *unstructured.Unstructured) map[string]any {
	c := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		if k != "status" && k != "metadata" {
			c[k] = v
		}
	}
	if md, ok := u.Object["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			switch k {
			case "resourceVersion", "managedFields", "generation":
			default:
				m[k] = v
			}
		}
		c["metadata"] = m
	}
	return c
}

func managedEntries(u *unstructured.Unstructured) []map[string]any {
	md, _ := u.Object["metadata"].(map[string]any)
	raw, _ := md["managedFields"].([]any)
	entries := make([]map[string]any, 0, len(raw))
	for _, e := range raw {
		if e, ok := e.(map[string]any); ok {
			entries = append(entries, e)
		}
	}
	return entries
}

func latestEntries(u *unstructured.Unstructured) []map[string]any {
	var latest []map[string]any
	var at string // RFC 3339 in UTC sorts as text
	for _, e := range managedEntries(u) {
		t, _ := e["time"].(string)
		switch {
		case t > at:
			latest, at = []map[string]any{e}, t
		case t == at:
			latest = append(latest, e)
		}
	}
	return latest
}

func entryKey(e map[string]any) string {
	return fmt.Sprint(e["manager"], "|", e["operation"], "|", e["subresource"], "|", e["apiVersion"], "|", e["time"])
}

func resourceVersion(obj any) string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.GetResourceVersion()
	}
	return ""
}

// report calls onChange for the owner of obj and, when an update moved the object to another
// owner or made its annotation invalid, for the owner named by old too.
func (w *Watcher) report(k *kindWatch, old, obj any, change Change) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	ref := apply.ObjectRef{Group: k.gvk.Group, Version: k.gvk.Version, Kind: k.gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
	app, owned := owner(u, ref)
	if owned {
		w.onChange(app, ref, change)
	}
	if o, ok := old.(*unstructured.Unstructured); ok {
		if oldApp, oldOwned := owner(o, ref); oldOwned && (!owned || oldApp != app) {
			// The object left this Application: for it, that is drift.
			w.onChange(oldApp, ref, Drifted)
		}
	}
}

// owner returns the Application named by u's tracking annotation, when the annotation is well
// formed and names u itself; a copy of a managed object, annotation and all, is no one's.
func owner(u *unstructured.Unstructured, ref apply.ObjectRef) (apply.App, bool) {
	app, tracked, ok := parseTrackingID(u.GetAnnotations()[apply.TrackingAnnotation])
	if !ok || tracked.Group != ref.Group || tracked.Kind != ref.Kind || tracked.Namespace != ref.Namespace || tracked.Name != ref.Name {
		return apply.App{}, false
	}
	return app, true
}

// parseTrackingID reads a value of apply.TrackingAnnotation,
// <app-namespace>/<app-name>:<group>/<kind>:<namespace>/<name>, the inverse of
// apply.TrackingID except that the reference has no Version. Group and namespace may be empty;
// the object's name may contain ':' (RBAC names do), no other part can.
func parseTrackingID(s string) (apply.App, apply.ObjectRef, bool) {
	appPart, rest, ok := strings.Cut(s, ":")
	if !ok {
		return apply.App{}, apply.ObjectRef{}, false
	}
	gkPart, objPart, ok := strings.Cut(rest, ":")
	if !ok {
		return apply.App{}, apply.ObjectRef{}, false
	}
	appNS, appName, ok1 := strings.Cut(appPart, "/")
	group, kind, ok2 := strings.Cut(gkPart, "/")
	ns, name, ok3 := strings.Cut(objPart, "/")
	if !ok1 || !ok2 || !ok3 || appNS == "" || appName == "" || kind == "" || name == "" ||
		strings.Contains(appName, "/") || strings.Contains(kind, "/") || strings.Contains(name, "/") {
		return apply.App{}, apply.ObjectRef{}, false
	}
	return apply.App{Namespace: appNS, Name: appName}, apply.ObjectRef{Group: group, Kind: kind, Namespace: ns, Name: name}, true
}

// WaitForSync waits until the informers of these kinds have listed their objects and reported
// each of them to onChange. It returns false at once when a kind is not watched (call Watch
// first), and false when ctx is done first. Informers sync only once the Watcher has started,
// and one that cannot list (no permission, kind gone) never syncs: bound ctx.
func (w *Watcher) WaitForSync(ctx context.Context, gvks ...schema.GroupVersionKind) bool {
	checkers := make([]cache.DoneChecker, 0, len(gvks))
	w.mu.RLock()
	for _, gvk := range gvks {
		k, ok := w.kinds[gvk]
		if !ok {
			w.mu.RUnlock()
			return false
		}
		checkers = append(checkers, k.synced)
	}
	w.mu.RUnlock()
	return cache.WaitFor(ctx, "", checkers...)
}

// Synced reports, without waiting, whether the informers of these kinds have synced. Get
// answers false for every object of a kind that has not, so a caller that must tell "absent"
// from "not known yet" asks Synced first.
func (w *Watcher) Synced(gvks ...schema.GroupVersionKind) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, gvk := range gvks {
		k, ok := w.kinds[gvk]
		if !ok || !isDone(k.synced) {
			return false
		}
	}
	return true
}

func isDone(c cache.DoneChecker) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// Get returns a copy of the cached live object, without managedFields. It returns false when
// the object does not exist or lacks apply.AppLabel, and also when its kind (ref's group,
// version and kind) is not watched or its informer has not synced yet: see Synced.
func (w *Watcher) Get(ref apply.ObjectRef) (*unstructured.Unstructured, bool) {
	w.mu.RLock()
	k, ok := w.kinds[schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind}]
	w.mu.RUnlock()
	if !ok || !isDone(k.synced) {
		return nil, false
	}
	key := ref.Name
	if k.namespaced {
		if ref.Namespace == "" {
			return nil, false
		}
		key = cache.NewObjectName(ref.Namespace, ref.Name).String()
	}
	obj, exists, err := k.informer.GetIndexer().GetByKey(key)
	if err != nil || !exists {
		return nil, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	return u.DeepCopy(), true
}

// Watched returns the kinds that have an informer, in no particular order.
func (w *Watcher) Watched() []schema.GroupVersionKind {
	w.mu.RLock()
	defer w.mu.RUnlock()
	out := make([]schema.GroupVersionKind, 0, len(w.kinds))
	for gvk := range w.kinds {
		out = append(out, gvk)
	}
	return out
}

// describe names a kind the way kubectl does: Kind.version.group, or Kind.version for the core
// group.
func describe(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Kind + "." + gvk.Version
	}
	return gvk.Kind + "." + gvk.Version + "." + gvk.Group
}
