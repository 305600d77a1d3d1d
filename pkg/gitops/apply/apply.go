// Package apply puts rendered objects into the cluster with server-side apply, as field manager
// "ferry", and prunes what left Git. It builds on fluxcd/pkg/ssa, which stages CRDs and
// Namespaces before the objects that need them, skips unchanged objects after a dry run, and
// honours ignore rules; Ferry adds tracking, namespace defaulting, a dry run of the whole set
// before anything is written, impersonation and inventory-based pruning.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

const (
	// FieldManager is the server-side apply field manager of every write Ferry makes.
	FieldManager = "ferry"
	// TrackingAnnotation names the Application that owns an object, and the object itself:
	// <app-namespace>/<app-name>:<group>/<kind>:<namespace>/<name>. Ferry prunes an object only
	// when this annotation names the pruning Application and the object exactly.
	TrackingAnnotation = "gitops.ferry.dev/tracking-id"
	// AppLabel selects every object of one Application, for watches: <app-namespace>.<app-name>,
	// or a hash of it when that is too long for a label value.
	AppLabel = "gitops.ferry.dev/app"
)

// App identifies the Application an apply is for.
type App struct {
	Namespace string
	Name      string
}

// LabelValue is the value of AppLabel for this Application.
func (a App) LabelValue() string {
	v := a.Namespace + "." + a.Name
	if len(v) <= 63 {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return "h-" + hex.EncodeToString(sum[:])[:40]
}

// ObjectRef identifies one object in the cluster.
type ObjectRef struct {
	Group, Version, Kind, Namespace, Name string
}

func (r ObjectRef) String() string {
	gk := r.Kind
	if r.Group != "" {
		gk += "." + r.Group
	}
	if r.Namespace == "" {
		return gk + "/" + r.Name
	}
	return gk + "/" + r.Namespace + "/" + r.Name
}

// RefOf returns the reference of an object.
func RefOf(u *unstructured.Unstructured) ObjectRef {
	gvk := u.GroupVersionKind()
	return ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

// TrackingID is the tracking annotation's value for an object of app.
func TrackingID(app App, ref ObjectRef) string {
	return fmt.Sprintf("%s/%s:%s/%s:%s/%s", app.Namespace, app.Name, ref.Group, ref.Kind, ref.Namespace, ref.Name)
}

// IgnoreRule excludes fields of matching objects from drift and from apply.
type IgnoreRule struct {
	Group, Kind, Name, Namespace string
	JSONPointers                 []string
}

// Options are the settings of one apply.
type Options struct {
	// DefaultNamespace is given to namespaced objects that name none.
	DefaultNamespace string
	// DryRun makes every request a server-side dry run: nothing changes.
	DryRun bool
	// Ignore lists fields Ferry must neither report as drift nor overwrite.
	Ignore []IgnoreRule
	// Concurrency of requests to the cluster. Default 8.
	Concurrency int
	// WaitTimeout bounds the wait for CRDs and Namespaces to be ready. Default 1m.
	WaitTimeout time.Duration
}

// Action is what apply did with one object.
type Action string

// Actions.
const (
	Created    Action = "Created"
	Configured Action = "Configured"
	Unchanged  Action = "Unchanged"
	Deleted    Action = "Deleted"
	Skipped    Action = "Skipped"
)

// Result is the outcome for one object.
type Result struct {
	Ref    ObjectRef
	Action Action
}

// Applier applies objects to one cluster. Appliers for impersonated identities are derived
// with As and share nothing but the base configuration.
type Applier struct {
	base *rest.Config

	mu       sync.Mutex
	managers map[string]*identityClient
}

type identityClient struct {
	client  client.Client
	mapper  meta.RESTMapper
	manager *ssa.ResourceManager
}

// NewApplier returns an Applier writing to the cluster of config.
func NewApplier(config *rest.Config) *Applier {
	return &Applier{base: rest.CopyConfig(config), managers: map[string]*identityClient{}}
}

// forIdentity returns the clients that act as username, or as the base identity when username
// is empty. Clients are kept: building a REST mapper costs a discovery round trip.
func (a *Applier) forIdentity(username string) (*identityClient, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.managers[username]; ok {
		return c, nil
	}
	cfg := rest.CopyConfig(a.base)
	if username != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: username}
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a client for %q: %w", username, err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("discovering the cluster's API as %q: %w", username, err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("building a client for %q: %w", username, err)
	}
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	m := ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "gitops.ferry.dev"})
	ic := &identityClient{client: c, mapper: mapper, manager: m}
	a.managers[username] = ic
	return ic, nil
}

// ServiceAccountUser is the username of a ServiceAccount, for impersonation.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Prepare defaults namespaces and sets the tracking annotation and label on every object, in
// place. Cluster-scoped objects lose any namespace they carry.
func (a *Applier) Prepare(ctx context.Context, app App, username string, objects []*unstructured.Unstructured, defaultNamespace string) error {
	ic, err := a.forIdentity(username)
	if err != nil {
		return err
	}
	if defaultNamespace == "" {
		defaultNamespace = app.Namespace
	}
	for _, o := range objects {
		gvk := o.GroupVersionKind()
		mapping, err := ic.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if meta.IsNoMatchError(err) && definesCRD(objects, gvk.GroupKind()) {
				// Its CRD comes with this set: custom resources are namespaced unless the CRD
				// says otherwise.
				if crdClusterScoped(objects, gvk.GroupKind()) {
					o.SetNamespace("")
				} else if o.GetNamespace() == "" {
					o.SetNamespace(defaultNamespace)
				}
			} else {
				return fmt.Errorf("%s: the cluster does not serve %s: %w", RefOf(o), gvk, err)
			}
		} else if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace(defaultNamespace)
			}
		} else {
			o.SetNamespace("")
		}
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[TrackingAnnotation] = TrackingID(app, RefOf(o))
		o.SetAnnotations(ann)
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AppLabel] = app.LabelValue()
		o.SetLabels(labels)
	}
	return nil
}

func definesCRD(objects []*unstructured.Unstructured, gk schema.GroupKind) bool {
	return findCRD(objects, gk) != nil
}

func crdClusterScoped(objects []*unstructured.Unstructured, gk schema.GroupKind) bool {
	crd := findCRD(objects, gk)
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	return scope == "Cluster"
}

func findCRD(objects []*unstructured.Unstructured, gk schema.GroupKind) *unstructured.Unstructured {
	for _, o := range objects {
		if o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if group == gk.Group && kind == gk.Kind {
			return o
		}
	}
	return nil
}

// Apply dry-runs every object, and only when all pass applies them in stages. Objects that
// need a Namespace or CRD created by the same set cannot be dry-run before it exists; they are
// checked in their stage. It returns what happened to each object.
func (a *Applier) Apply(ctx context.Context, username string, objects []*unstructured.Unstructured, opts Options) ([]Result, error) {
	ic, err := a.forIdentity(username)
	if err != nil {
		return nil, err
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = time.Minute
	}
	ic.manager.SetConcurrency(opts.Concurrency)

	absent, err := a.dryRunAll(ctx, ic, objects)
	if err != nil {
		return nil, err
	}
	if opts.DryRun {
		// Everything passed the server's dry run and nothing is to be written.
		results := make([]Result, 0, len(objects))
		for _, o := range objects {
			results = append(results, Result{Ref: RefOf(o), Action: Skipped})
		}
		return results, nil
	}

	applyOpts := ssa.DefaultApplyOptions()
	applyOpts.WaitTimeout = opts.WaitTimeout
	applyOpts.WaitInterval = time.Second
	applyOpts.DriftIgnoreRules = ignoreRules(opts.Ignore)
	// Objects the dry run found absent, and that no other object of the set must precede (a
	// definition, a class), are created with one apply each. ssa would read and dry-run each of
	// them again, doubling what a first sync costs the API server. The rest go through ssa,
	// which stages definitions and classes first and skips what is unchanged. ssa sorts and
	// stages the slice it is given; keep the caller's order intact.
	var toApply, toCreate []*unstructured.Unstructured
	for _, o := range objects {
		if absent[key(RefOf(o))] && !ssautils.IsClusterDefinition(o) && !ssautils.IsClassDefinition(o) {
			toCreate = append(toCreate, o.DeepCopy())
		} else {
			toApply = append(toApply, o.DeepCopy())
		}
	}
	var results []Result
	var cs *ssa.ChangeSet
	if len(toApply) > 0 {
		cs, err = ic.manager.ApplyAllStaged(ctx, toApply, applyOpts)
	}
	if err == nil && len(toCreate) > 0 {
		results, err = a.create(ctx, ic, toCreate, opts.Concurrency)
	}
	if cs != nil {
		for _, e := range cs.Entries {
			results = append(results, Result{
				Ref: ObjectRef{
					Group: e.ObjMetadata.GroupKind.Group, Version: e.GroupVersion, Kind: e.ObjMetadata.GroupKind.Kind,
					Namespace: e.ObjMetadata.Namespace, Name: e.ObjMetadata.Name,
				},
				Action: actionOf(e.Action),
			})
		}
	}
	if err != nil {
		return results, fmt.Errorf("applying: %w", err)
	}
	return results, nil
}

func actionOf(a ssa.Action) Action {
	switch a {
	case ssa.CreatedAction:
		return Created
	case ssa.ConfiguredAction:
		return Configured
	case ssa.UnchangedAction:
		return Unchanged
	case ssa.DeletedAction:
		return Deleted
	}
	return Skipped
}

// create applies objects that do not exist yet, concurrency at a time.
func (a *Applier) create(ctx context.Context, ic *identityClient, objects []*unstructured.Unstructured, concurrency int) ([]Result, error) {
	results := make([]Result, len(objects))
	err := forEach(objects, concurrency, func(i int, o *unstructured.Unstructured) error {
		results[i] = Result{Ref: RefOf(o), Action: Created}
		if err := ic.client.Patch(ctx, o, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
			results[i].Action = Skipped
			return err
		}
		return nil
	})
	return results, err
}

// forEach calls f for every object, concurrency at a time, and returns the errors, each
// naming its object.
func forEach(objects []*unstructured.Unstructured, concurrency int, f func(i int, o *unstructured.Unstructured) error) error {
	errs := make([]error, len(objects))
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i, o := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i, o); err != nil {
				errs[i] = fmt.Errorf("%s: %w", RefOf(o), err)
			}
		}()
	}
	wg.Wait()
	return utilerrors.NewAggregate(errs)
}

// dryRunAll runs a server-side apply dry run of every object whose prerequisites already exist,
// and reports every failure at once, each naming its object. It returns the objects the dry run
// found absent: the server answers a dry-run creation without a resourceVersion.
func (a *Applier) dryRunAll(ctx context.Context, ic *identityClient, objects []*unstructured.Unstructured) (map[string]bool, error) {
	// Objects in a namespace this set creates can only be dry-run once it exists; ask once per
	// namespace, not once per object.
	missingNamespaces := map[string]bool{}
	for _, o := range objects {
		if o.GetKind() != "Namespace" || o.GroupVersionKind().Group != "" {
			continue
		}
		var existing unstructured.Unstructured
		existing.SetAPIVersion("v1")
		existing.SetKind("Namespace")
		if err := ic.client.Get(ctx, client.ObjectKey{Name: o.GetName()}, &existing); apierrors.IsNotFound(err) {
			missingNamespaces[o.GetName()] = true
		}
	}
	var checked []*unstructured.Unstructured
	for _, o := range objects {
		if definesCRD(objects, o.GroupVersionKind().GroupKind()) || missingNamespaces[o.GetNamespace()] {
			continue
		}
		checked = append(checked, o)
	}
	isAbsent := make([]bool, len(checked))
	err := forEach(checked, 8, func(i int, o *unstructured.Unstructured) error {
		obj := o.DeepCopy()
		if err := ic.client.Patch(ctx, obj, client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil {
			return err
		}
		isAbsent[i] = obj.GetResourceVersion() == ""
		return nil
	})
	if err != nil {
		var errs []error
		if agg, ok := err.(utilerrors.Aggregate); ok {
			errs = agg.Errors()
		} else {
			errs = []error{err}
		}
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, &DryRunRefusedError{Refused: len(errs), Total: len(objects), Err: utilerrors.NewAggregate(errs)}
	}
	absent := map[string]bool{}
	for i, o := range checked {
		if isAbsent[i] {
			absent[key(RefOf(o))] = true
		}
	}
	return absent, nil
}

// DryRunRefusedError is the server refusing the dry run of some objects of a set, so that
// nothing of the set was applied. The same objects are refused again until Git changes.
type DryRunRefusedError struct {
	Refused, Total int
	// Err holds each refusal, naming its object.
	Err error
}

func (e *DryRunRefusedError) Error() string {
	return fmt.Sprintf("dry run refused %d of %d objects, nothing was applied: %v", e.Refused, e.Total, e.Err)
}

func (e *DryRunRefusedError) Unwrap() error { return e.Err }

// Prune deletes the objects of the previous inventory that are not in the desired set, but only
// those whose tracking annotation names this Application and the object. Objects without the
// annotation, or claimed by another Application, are left alone and reported as Skipped.
func (a *Applier) Prune(ctx context.Context, app App, username string, previous []ObjectRef, desired []*unstructured.Unstructured, dryRun bool) ([]Result, error) {
	ic, err := a.forIdentity(username)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, o := range desired {
		want[key(RefOf(o))] = true
	}
	var results []Result
	var errs []error
	for _, ref := range previous {
		if want[key(ref)] {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
		err := ic.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: reading before prune: %w", ref, err))
			continue
		}
		if live.GetAnnotations()[TrackingAnnotation] != TrackingID(app, ref) {
			results = append(results, Result{Ref: ref, Action: Skipped})
			continue
		}
		if live.GetDeletionTimestamp() != nil {
			continue
		}
		opts := []client.DeleteOption{client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: ptrUID(live)}}
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		if err := ic.client.Delete(ctx, live, opts...); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: pruning: %w", ref, err))
			continue
		}
		results = append(results, Result{Ref: ref, Action: Deleted})
	}
	return results, utilerrors.NewAggregate(errs)
}

func ptrUID(u *unstructured.Unstructured) *types.UID {
	uid := u.GetUID()
	return &uid
}

func key(r ObjectRef) string {
	return strings.Join([]string{r.Group, r.Kind, r.Namespace, r.Name}, "/")
}

// IsForbidden reports whether err (or one it wraps) is a Forbidden from the cluster, as when an
// impersonated ServiceAccount lacks a permission.
func IsForbidden(err error) bool {
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		for _, e := range agg.Errors() {
			if IsForbidden(e) {
				return true
			}
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if apierrors.IsForbidden(e) {
			return true
		}
	}
	return false
}

// Compare dry-runs every object and reports which would be Created or Configured and which are
// Unchanged, without writing anything. Fields matched by ignore are left out of the comparison.
func (a *Applier) Compare(ctx context.Context, username string, objects []*unstructured.Unstructured, ignore []IgnoreRule) ([]Result, error) {
	diffs, err := a.Diff(ctx, username, objects, ignore)
	results := make([]Result, len(diffs))
	for i, d := range diffs {
		results[i] = Result{Ref: d.Ref, Action: d.Action}
	}
	return results, err
}

// Live reads an object with Ferry's own identity; nil when it does not exist.
func (a *Applier) Live(ctx context.Context, ref ObjectRef) (*unstructured.Unstructured, error) {
	ic, err := a.forIdentity("")
	if err != nil {
		return nil, err
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
	err = ic.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return live, nil
}

func ignoreRules(ignore []IgnoreRule) []jsondiff.IgnoreRule {
	var rules []jsondiff.IgnoreRule
	for _, r := range ignore {
		rules = append(rules, jsondiff.IgnoreRule{
			Paths:    r.JSONPointers,
			Selector: &jsondiff.Selector{Group: r.Group, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace},
		})
	}
	return rules
}

// EnsureNamespace creates a namespace as username when it does not exist. It is not tracked:
// deleting the Application never deletes a namespace it merely asked for.
func (a *Applier) EnsureNamespace(ctx context.Context, username, name string) error {
	ic, err := a.forIdentity(username)
	if err != nil {
		return err
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	if err := ic.client.Get(ctx, client.ObjectKey{Name: name}, ns); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns.SetName(name)
	if err := ic.client.Create(ctx, ns, client.FieldOwner(FieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s (spec.syncPolicy.createNamespace): %w", name, err)
	}
	return nil
}

// DiffResult is one object compared with the cluster: Live and Desired are set for Configured
// (the live object and the server's dry-run result, Secret values already told apart by mask),
// Desired alone for Created.
type DiffResult struct {
	Ref     ObjectRef
	Action  Action
	Live    *unstructured.Unstructured
	Desired *unstructured.Unstructured
}

// Diff dry-runs every object as username and returns what applying it would do, with the
// objects to show. Nothing is written.
func (a *Applier) Diff(ctx context.Context, username string, objects []*unstructured.Unstructured, ignore []IgnoreRule) ([]DiffResult, error) {
	ic, err := a.forIdentity(username)
	if err != nil {
		return nil, err
	}
	opts := ssa.DefaultDiffOptions()
	opts.DriftIgnoreRules = ignoreRules(ignore)
	results := make([]DiffResult, len(objects))
	err = forEach(objects, 8, func(i int, o *unstructured.Unstructured) error {
		entry, live, merged, err := ic.manager.Diff(ctx, o.DeepCopy(), opts)
		if err != nil {
			return err
		}
		r := DiffResult{Ref: RefOf(o), Action: actionOf(entry.Action), Live: live, Desired: merged}
		if r.Action == Created {
			r.Desired = o.DeepCopy()
		}
		results[i] = r
		return nil
	})
	return results, err
}

// Owned reports whether the live object carries this Application's tracking annotation for
// itself, the condition for pruning it.
func Owned(app App, live *unstructured.Unstructured) bool {
	return live != nil && live.GetAnnotations()[TrackingAnnotation] == TrackingID(app, RefOf(live))
}
