// Package apply puts rendered objects into the cluster with server-side apply, as field manager
// "ferry", and prunes what left Git. It builds on fluxcd/pkg/ssa, which stages CRDs and
// Namespaces before the objects that need them, skips unchanged objects after a dry run, and
// honours ignore rules; Ferry adds tracking, namespace defaulting, a dry run of the whole set
// before anything is written, impersonation and inventory-based pruning.
package apply

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
		if absent[RefOf(o).Key()] && !ssautils.IsClusterDefinition(o) && !ssautils.IsClassDefinition(o) {
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
		// Patch with client.Apply, as fluxcd/pkg/ssa applies: the server's answer lands in o.
		if err := ic.client.Patch(ctx, o, client.Apply, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil { //nolint:staticcheck // see above
			results[i].Action = Skipped
			return err
		}
		return nil
	})
	return results, err
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
		// The answer lands in obj: its resourceVersion tells an absent object.
		if err := ic.client.Patch(ctx, obj, client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner(FieldManager)); err != nil { //nolint:staticcheck // as fluxcd/pkg/ssa applies
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
			absent[RefOf(o).Key()] = true
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
