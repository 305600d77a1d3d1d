package apply

import (
	"context"

	"github.com/fluxcd/pkg/ssa"
	"github.com/fluxcd/pkg/ssa/jsondiff"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DiffResult is one object compared with the cluster: Live and Desired are set for Configured
// (the live object and the server's dry-run result, Secret values already told apart by mask),
// Desired alone for Created.
type DiffResult struct {
	Ref     ObjectRef
	Action  Action
	Live    *unstructured.Unstructured
	Desired *unstructured.Unstructured
	// Owner is, for a Shared object, the tracking annotation of the Application managing it.
	Owner string
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
		// Another Application's object: a sync would leave it alone, so there is nothing to show.
		if live != nil {
			if tracking, tracked := live.GetAnnotations()[TrackingAnnotation]; tracked && tracking != o.GetAnnotations()[TrackingAnnotation] {
				r = DiffResult{Ref: r.Ref, Action: Shared, Live: live, Owner: tracking}
			}
		}
		results[i] = r
		return nil
	})
	return results, err
}

// Compare dry-runs every object and reports which would be Created or Configured and which are
// Unchanged, without writing anything. Fields matched by ignore are left out of the comparison.
func (a *Applier) Compare(ctx context.Context, username string, objects []*unstructured.Unstructured, ignore []IgnoreRule) ([]Result, error) {
	diffs, err := a.Diff(ctx, username, objects, ignore)
	results := make([]Result, len(diffs))
	for i, d := range diffs {
		results[i] = Result{Ref: d.Ref, Action: d.Action, Owner: d.Owner}
	}
	return results, err
}

// Live reads an object with Ferry's own identity; nil when it does not exist.
func (a *Applier) Live(ctx context.Context, username string, ref ObjectRef) (*unstructured.Unstructured, error) {
	ic, err := a.forIdentity(username)
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
