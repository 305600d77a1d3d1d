// Package apply puts rendered objects into the cluster with server-side apply, as field manager
// "ferry", and prunes what left Git. It builds on fluxcd/pkg/ssa, which stages CRDs and
// Namespaces before the objects that need them, skips unchanged objects after a dry run, and
// honours ignore rules; Ferry adds tracking, namespace defaulting, a dry run of the whole set
// before anything is written, impersonation and inventory-based pruning.
package apply

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"time"

	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferry-gitops/ferry/pkg/gitops/syncoptions"
)

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

	results, digests, toCheck := a.unchangedSinceApplied(username, objects, opts)
	absent, answers, err := a.dryRunAll(ctx, ic, toCheck, len(objects))
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
	w, err := a.sortWrites(ctx, ic, username, toCheck, absent, answers, digests, opts)
	results = append(results, w.results...)
	if err != nil {
		return results, err
	}
	written, err := a.write(ctx, ic, username, w, digests, opts)
	results = append(results, written...)
	for i := range results {
		if w.adopted[results[i].Ref.Key()] && results[i].Action != Skipped {
			results[i].Adopted = true
		}
	}
	if err != nil {
		return results, fmt.Errorf("applying: %w", err)
	}
	return results, nil
}

// unchangedSinceApplied sorts out the objects applied before with this content and untouched
// since: they need no dry run and no write. It returns their results, the content digest of
// every object, and the objects to dry-run (together, before anything is written).
func (a *Applier) unchangedSinceApplied(username string, objects []*unstructured.Unstructured, opts Options) ([]Result, map[string][sha256.Size]byte, []*unstructured.Unstructured) {
	digests := map[string][sha256.Size]byte{}
	if opts.Cached == nil || len(opts.Ignore) > 0 || opts.DryRun {
		return nil, digests, objects
	}
	var results []Result
	var toCheck []*unstructured.Unstructured
	for _, o := range objects {
		ref := RefOf(o)
		digest, ok := digestOf(o)
		if ok {
			digests[ref.Key()] = digest
		}
		if live, cached := opts.Cached(ref); ok && cached && a.applied.unchanged(username, o, digest, live) {
			results = append(results, Result{Ref: ref, Action: Unchanged})
			continue
		}
		toCheck = append(toCheck, o)
	}
	return results, digests, toCheck
}

// writes are the objects of one Apply sorted by how they are written, and what was settled
// without writing.
type writes struct {
	// staged go through ssa, which stages definitions and classes first and skips what is
	// unchanged; create are absent and created with one apply each, tier by tier; configure
	// are applied with one request each; replace are created or PUT whole (Replace=true).
	staged, create, configure, replace []*unstructured.Unstructured
	// results are the objects settled without a write: Unchanged, or Shared with another
	// Application.
	results []Result
	// adopted are the objects no Application tracked, which this apply takes over.
	adopted map[string]bool
}

// sortWrites sorts the dry-run objects by how they are written.
//
// Objects the dry run found absent, and that no other object of the set must precede (a
// definition, a class), are created with one apply each. ssa would read and dry-run each of them
// again, doubling what a first sync costs the API server. The rest go through ssa, which stages
// definitions and classes first and skips what is unchanged. ssa sorts and stages the slice it is
// given; keep the caller's order intact.
//
// Existing objects whose watch-cached copy is as current as the dry run's answer are judged here
// too: the answer is what the object would become, so an answer equal to the live object is
// Unchanged (no request) and any other is applied with one request, where ssa would GET and
// dry-run it once more.
//
// An existing object that another Application's tracking annotation names is left alone
// (Shared); one that no Application tracks is adopted.
func (a *Applier) sortWrites(ctx context.Context, ic *identityClient, username string, toCheck []*unstructured.Unstructured,
	absent map[string]bool, answers map[string]*unstructured.Unstructured, digests map[string][sha256.Size]byte, opts Options) (writes, error) {
	w := writes{adopted: map[string]bool{}}
	for _, o := range toCheck {
		ref := RefOf(o)
		staged := ssautils.IsClusterDefinition(o) || ssautils.IsClassDefinition(o)
		if answer := answers[ref.Key()]; answer != nil {
			ours := o.GetAnnotations()[TrackingAnnotation]
			tracking, tracked, err := a.liveTracking(ctx, ic, ref, answer, ours, opts)
			if err != nil {
				return w, fmt.Errorf("%s: reading which Application manages it: %w", ref, err)
			}
			if tracked && tracking != ours {
				w.results = append(w.results, Result{Ref: ref, Action: Shared, Owner: tracking})
				continue
			}
			if !tracked {
				w.adopted[ref.Key()] = true
				w.configure = append(w.configure, o.DeepCopy())
				continue
			}
		}
		if so, _ := syncoptions.Of(o); so.Replace && !staged {
			// Replace=true: the whole object is created, or written with a PUT, as kubectl
			// create and replace would, unless it is unchanged.
			if !absent[ref.Key()] && judgeFromCache(ref, answers[ref.Key()], opts) == Unchanged {
				w.results = append(w.results, Result{Ref: ref, Action: Unchanged})
			} else {
				w.replace = append(w.replace, o.DeepCopy())
			}
			continue
		}
		switch {
		case staged:
			w.staged = append(w.staged, o.DeepCopy())
		case absent[ref.Key()]:
			w.create = append(w.create, o.DeepCopy())
		default:
			switch judgeFromCache(ref, answers[ref.Key()], opts) {
			case Unchanged:
				w.results = append(w.results, Result{Ref: ref, Action: Unchanged})
				if digest, ok := digests[ref.Key()]; ok {
					a.applied.record(ref, username, digest, answers[ref.Key()].GetResourceVersion())
				}
			case Configured:
				w.configure = append(w.configure, o.DeepCopy())
			default:
				w.staged = append(w.staged, o.DeepCopy())
			}
		}
	}
	return w, nil
}

// write writes w: the staged objects through ssa, then new objects tier by tier, then the
// configured and the replaced ones, stopping at the first error.
func (a *Applier) write(ctx context.Context, ic *identityClient, username string, w writes, digests map[string][sha256.Size]byte, opts Options) ([]Result, error) {
	applyOpts := ssa.DefaultApplyOptions()
	applyOpts.WaitTimeout = opts.WaitTimeout
	applyOpts.WaitInterval = time.Second
	applyOpts.DriftIgnoreRules = ignoreRules(opts.Ignore)
	var results []Result
	var cs *ssa.ChangeSet
	var err error
	if len(w.staged) > 0 {
		cs, err = ic.manager.ApplyAllStaged(ctx, w.staged, applyOpts)
	}
	// New objects are created tier by tier, in the order a cluster needs them: identities and
	// policies, then configuration, then Services, then workloads and the rest, then webhooks —
	// so that a Deployment's Pods never wait for a ServiceAccount created at the same moment.
	for _, tier := range creationTiers(w.create) {
		if err != nil {
			break
		}
		var created []Result
		created, err = a.applyEach(ctx, ic, username, tier, Created, opts.Concurrency, digests)
		results = append(results, created...)
	}
	if err == nil && len(w.configure) > 0 {
		var configured []Result
		configured, err = a.applyEach(ctx, ic, username, w.configure, Configured, opts.Concurrency, digests)
		results = append(results, configured...)
	}
	if err == nil && len(w.replace) > 0 {
		var replaced []Result
		replaced, err = a.replaceEach(ctx, ic, w.replace, opts.Concurrency)
		results = append(results, replaced...)
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
	return results, err
}

// liveTracking returns the tracking annotation the live object carries, and whether it carries
// one, from the watch cache when its copy is as current as the dry run's answer, else from the
// cluster: a takeover decided on a stale copy would be a takeover all the same.
func (a *Applier) liveTracking(ctx context.Context, ic *identityClient, ref ObjectRef, answer *unstructured.Unstructured, ours string, opts Options) (string, bool, error) {
	if opts.Cached != nil {
		if live, ok := opts.Cached(ref); ok && live.GetResourceVersion() == answer.GetResourceVersion() {
			tracking, tracked := live.GetAnnotations()[TrackingAnnotation]
			return tracking, tracked, nil
		}
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(answer.GroupVersionKind())
	if err := ic.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live); err != nil {
		if apierrors.IsNotFound(err) {
			return ours, true, nil // gone since the dry run: created as ours, nothing taken over
		}
		return "", false, err
	}
	tracking, tracked := live.GetAnnotations()[TrackingAnnotation]
	return tracking, tracked, nil
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

// judgeFromCache decides an existing object from the watch cache and the dry run's answer:
// Unchanged, Configured, or "" when it cannot tell (no cache, a cache older than the answer,
// ignore rules, which only ssa applies).
func judgeFromCache(ref ObjectRef, answer *unstructured.Unstructured, opts Options) Action {
	if opts.Cached == nil || answer == nil || len(opts.Ignore) > 0 {
		return ""
	}
	live, ok := opts.Cached(ref)
	if !ok || live.GetResourceVersion() == "" || live.GetResourceVersion() != answer.GetResourceVersion() {
		return ""
	}
	if sameObject(live, answer) {
		return Unchanged
	}
	return Configured
}

// sameObject compares two copies of one object but for managedFields, which a dry run
// rewrites and the watch cache trims.
func sameObject(a, b *unstructured.Unstructured) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	unstructured.RemoveNestedField(a.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(b.Object, "metadata", "managedFields")
	return apiequality.Semantic.DeepEqual(a.Object, b.Object)
}

// applyEach applies objects one request each, concurrency at a time, reporting action for each
// (Created for objects the dry run found absent, Configured for changed ones), and remembers
// what it applied (digests, by object key) for the next sync.
func (a *Applier) applyEach(ctx context.Context, ic *identityClient, username string, objects []*unstructured.Unstructured, action Action, concurrency int, digests map[string][sha256.Size]byte) ([]Result, error) {
	results := make([]Result, len(objects))
	err := forEach(objects, concurrency, func(i int, o *unstructured.Unstructured) error {
		ref := RefOf(o)
		results[i] = Result{Ref: ref, Action: action}
		// Patch with client.Apply, as fluxcd/pkg/ssa applies: the server's answer lands in o.
		if err := ic.client.Patch(ctx, o, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil { //nolint:staticcheck // see above
			results[i].Action = Skipped
			return err
		}
		if digest, ok := digests[ref.Key()]; ok {
			a.applied.record(ref, username, digest, o.GetResourceVersion())
		}
		return nil
	})
	return results, err
}

// creationTier ranks kinds for creation; kinds it does not name are workloads and the rest.
var creationTier = map[string]int{
	"ServiceAccount": 0, "Role": 0, "RoleBinding": 0, "ClusterRole": 0, "ClusterRoleBinding": 0,
	"ResourceQuota": 0, "LimitRange": 0, "PriorityClass": 0, "NetworkPolicy": 0,
	"ConfigMap": 1, "Secret": 1, "PersistentVolumeClaim": 1,
	"Service":                      2,
	"MutatingWebhookConfiguration": 4, "ValidatingWebhookConfiguration": 4,
	"ValidatingAdmissionPolicy": 4, "ValidatingAdmissionPolicyBinding": 4,
}

// creationTiers groups objects by creation tier, in order, keeping their order within a tier;
// empty tiers are left out.
func creationTiers(objects []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	var tiers [5][]*unstructured.Unstructured
	for _, o := range objects {
		t, ok := creationTier[o.GetKind()]
		if !ok {
			t = 3
		}
		tiers[t] = append(tiers[t], o)
	}
	var out [][]*unstructured.Unstructured
	for _, t := range tiers {
		if len(t) > 0 {
			out = append(out, t)
		}
	}
	return out
}

// replaceEach creates objects, or writes them with a PUT of the whole object over the live one's
// resourceVersion (sync option Replace=true), concurrency at a time.
func (a *Applier) replaceEach(ctx context.Context, ic *identityClient, objects []*unstructured.Unstructured, concurrency int) ([]Result, error) {
	results := make([]Result, len(objects))
	err := forEach(objects, concurrency, func(i int, o *unstructured.Unstructured) error {
		ref := RefOf(o)
		results[i] = Result{Ref: ref, Action: Configured}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		err := ic.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
		if apierrors.IsNotFound(err) {
			results[i].Action = Created
			if err := ic.client.Create(ctx, o, client.FieldOwner(FieldManager)); err != nil {
				results[i].Action = Skipped
				return fmt.Errorf("%s: creating it (sync option Replace=true): %w", ref, err)
			}
			return nil
		}
		if err != nil {
			results[i].Action = Skipped
			return fmt.Errorf("%s: reading it to replace it (sync option Replace=true): %w", ref, err)
		}
		o.SetResourceVersion(live.GetResourceVersion())
		if err := ic.client.Update(ctx, o, client.FieldOwner(FieldManager)); err != nil {
			results[i].Action = Skipped
			return fmt.Errorf("%s: replacing it (sync option Replace=true): %w", ref, err)
		}
		a.applied.forget(ref)
		return nil
	})
	return results, err
}

// dryRunAll runs a server-side apply dry run of every object whose prerequisites already exist,
// and reports every failure at once, each naming its object. It returns the objects the dry run
// found absent (the server answers a dry-run creation without a resourceVersion), and the
// server's answer for each existing object: what it would become.
// total is the size of the whole set, for the error.
func (a *Applier) dryRunAll(ctx context.Context, ic *identityClient, objects []*unstructured.Unstructured, total int) (map[string]bool, map[string]*unstructured.Unstructured, error) {
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
	answers := make([]*unstructured.Unstructured, len(checked))
	err := forEach(checked, 8, func(i int, o *unstructured.Unstructured) error {
		obj := o.DeepCopy()
		// The answer lands in obj: its resourceVersion tells an absent object.
		if err := ic.client.Patch(ctx, obj, client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil { //nolint:staticcheck // as fluxcd/pkg/ssa applies
			return err
		}
		answers[i] = obj
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
		return nil, nil, &DryRunRefusedError{Refused: len(errs), Total: total, Err: utilerrors.NewAggregate(errs)}
	}
	absent := map[string]bool{}
	existing := map[string]*unstructured.Unstructured{}
	for i, o := range checked {
		if answers[i].GetResourceVersion() == "" {
			absent[RefOf(o).Key()] = true
		} else {
			existing[RefOf(o).Key()] = answers[i]
		}
	}
	return absent, existing, nil
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
