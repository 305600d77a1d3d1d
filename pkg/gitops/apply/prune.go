package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferry-gitops/ferry/pkg/gitops/syncoptions"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

// Prune deletes the objects of the previous inventory that are not in the desired set, but only
// those whose tracking annotation names this Application and the object. Objects without the
// annotation, or claimed by another Application, are left alone and reported as Skipped. The
// highest sync wave goes first (the reverse of the order they were applied in).
func (a *Applier) Prune(ctx context.Context, app App, username string, previous []ObjectRef, desired []*unstructured.Unstructured, dryRun bool) ([]Result, error) {
	return a.prune(ctx, app, username, previous, desired, dryRun, false)
}

// PruneAll deletes every object of a deleted Application's inventory, as Prune does, but for
// those whose sync options say Delete=false.
func (a *Applier) PruneAll(ctx context.Context, app App, username string, inventory []ObjectRef) ([]Result, error) {
	return a.prune(ctx, app, username, inventory, nil, false, true)
}

func (a *Applier) prune(ctx context.Context, app App, username string, previous []ObjectRef, desired []*unstructured.Unstructured, dryRun, appDeleted bool) ([]Result, error) {
	ic, err := a.forIdentity(username)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, o := range desired {
		want[RefOf(o).Key()] = true
	}
	var results []Result
	var errs []error
	var doomed []*unstructured.Unstructured
	for _, ref := range previous {
		if want[ref.Key()] {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
		err := ic.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, live)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			errs = append(errs, &PruneError{Ref: ref, Op: PruneOpRead, Err: err})
			continue
		}
		if live.GetAnnotations()[TrackingAnnotation] != TrackingID(app, ref) {
			results = append(results, Result{Ref: ref, Action: Skipped})
			continue
		}
		if live.GetDeletionTimestamp() != nil {
			continue
		}
		// The live object's options count: they are what Git said when it was last applied.
		if opts, _ := syncoptions.Of(live); opts.NoDelete && appDeleted {
			results = append(results, Result{Ref: ref, Action: Skipped, Kept: "sync option Delete=false"})
			continue
		} else if opts.NoPrune && !appDeleted {
			results = append(results, Result{Ref: ref, Action: Skipped, Kept: "sync option Prune=false"})
			continue
		}
		doomed = append(doomed, live)
	}
	waves := make(map[*unstructured.Unstructured]int32, len(doomed))
	for _, live := range doomed {
		waves[live] = waveOf(live)
	}
	sort.SliceStable(doomed, func(i, j int) bool { return waves[doomed[i]] > waves[doomed[j]] })
	for _, live := range doomed {
		ref := RefOf(live)
		opts := []client.DeleteOption{client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: ptrUID(live)}}
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		if err := ic.client.Delete(ctx, live, opts...); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, &PruneError{Ref: ref, Op: PruneOpDelete, Err: err})
			continue
		}
		if !dryRun {
			a.applied.forget(ref)
		}
		results = append(results, Result{Ref: ref, Action: Deleted})
	}
	return results, utilerrors.NewAggregate(errs)
}

// PruneError is the failure to prune one object: the finalizer of a deleted Application tells
// the objects its identity may not touch (Forbidden: retrying cannot help) from those a retry
// may still delete.
type PruneError struct {
	Ref ObjectRef
	// Op is the step that failed: PruneOpRead or PruneOpDelete.
	Op  string
	Err error
}

// The steps of a prune that can fail, as PruneError.Op names them.
const (
	PruneOpRead   = "reading before prune"
	PruneOpDelete = "pruning"
)

func (e *PruneError) Error() string { return fmt.Sprintf("%s: %s: %v", e.Ref, e.Op, e.Err) }
func (e *PruneError) Unwrap() error { return e.Err }

// PruneErrors are the per-object failures in an error returned by Prune or PruneAll.
func PruneErrors(err error) []*PruneError {
	var agg utilerrors.Aggregate
	if !errors.As(err, &agg) {
		var one *PruneError
		if errors.As(err, &one) {
			return []*PruneError{one}
		}
		return nil
	}
	var out []*PruneError
	for _, e := range agg.Errors() {
		var one *PruneError
		if errors.As(e, &one) {
			out = append(out, one)
		}
	}
	return out
}

// waveOf is an object's sync wave; a malformed annotation counts as wave 0 here, where the
// object is leaving anyway.
func waveOf(obj *unstructured.Unstructured) int32 {
	n, _ := syncwave.Of(obj)
	return n
}

func ptrUID(u *unstructured.Unstructured) *types.UID {
	uid := u.GetUID()
	return &uid
}
