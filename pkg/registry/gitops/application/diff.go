package application

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/diff"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

// Differ compares an Application at a revision ("" means its own) with the cluster and returns
// the commit compared and one entry per object, Delete entries included.
type Differ func(ctx context.Context, app *gitops.Application, revision string) (string, []gitops.ResourceDiff, error)

// DiffREST serves GET applications/{name}/diff?revision=.
type DiffREST struct {
	store     *genericregistry.Store
	diff      Differ
	decrypted decryptedReadAuthorizer
}

var (
	_ rest.GetterWithOptions    = &DiffREST{}
	_ rest.SingularNameProvider = &DiffREST{}
)

// NewDiffREST serves diffs through the Application store; diff is nil without a target cluster,
// and requests then fail with 503. authz (the server's delegated authorizer) decides who may
// read a render that decrypts; nil lets everyone who may get the subresource.
func NewDiffREST(store *genericregistry.Store, diff Differ, authz authorizer.Authorizer) *DiffREST {
	return &DiffREST{store: store, diff: diff, decrypted: decryptedReadAuthorizer{authz}}
}

// New returns an empty ApplicationDiff.
func (r *DiffREST) New() runtime.Object { return &gitops.ApplicationDiff{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *DiffREST) Destroy() {}

// GetSingularName is the singular of the response kind.
func (r *DiffREST) GetSingularName() string { return "applicationdiff" }

// NewGetOptions returns the query options: ?revision=.
func (r *DiffREST) NewGetOptions() (runtime.Object, bool, string) {
	return &gitops.ApplicationDiffOptions{}, false, ""
}

// Get compares the Application at the requested revision with the cluster.
func (r *DiffREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*gitops.ApplicationDiffOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unexpected options %T", options))
	}
	if r.diff == nil {
		return nil, apierrors.NewServiceUnavailable("ferry-apiserver has no target cluster to compare with (start it with --kubeconfig, --target-kubeconfig or in a cluster)")
	}
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	app := obj.(*gitops.Application)
	if err := r.decrypted.check(ctx, app, "diff"); err != nil {
		return nil, err
	}
	sha, items, err := r.diff(ctx, app, opts.Revision)
	if err != nil {
		return nil, err
	}
	return &gitops.ApplicationDiff{
		ObjectMeta: responseMeta(app),
		Revision:   sha,
		Items:      items,
		Summary:    Summarize(items),
	}, nil
}

// Summarize counts diff items by action, as an ApplicationDiff's summary.
func Summarize(items []gitops.ResourceDiff) gitops.DiffSummary {
	var s gitops.DiffSummary
	for _, it := range items {
		switch it.Action {
		case gitops.DiffCreate:
			s.Create++
		case gitops.DiffUpdate:
			s.Update++
		case gitops.DiffDelete:
			s.Delete++
		default:
			s.None++
		}
	}
	return s
}

// DiffItems turns the engine's comparison, with its objects, into the items of an
// ApplicationDiff: Create and Update entries with the unified diff from live to desired, None
// for objects that match, and Delete entries for what a prune would remove. Secret values are
// masked by diff.Unified.
func DiffItems(cmp engine.Comparison) ([]gitops.ResourceDiff, error) {
	var items []gitops.ResourceDiff
	for _, r := range cmp.Results {
		item := resourceDiff(r.Ref, gitops.DiffNone)
		switch r.Action {
		case apply.Created:
			item.Action = gitops.DiffCreate
		case apply.Configured:
			item.Action = gitops.DiffUpdate
		}
		if item.Action != gitops.DiffNone {
			var err error
			if item.Diff, err = diff.Unified(r.Live, r.Desired); err != nil {
				return nil, apierrors.NewInternalError(err)
			}
		}
		items = append(items, item)
	}
	for _, live := range cmp.Prunable {
		item := resourceDiff(apply.RefOf(live), gitops.DiffDelete)
		var err error
		if item.Diff, err = diff.Unified(live, nil); err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		items = append(items, item)
	}
	return items, nil
}

func resourceDiff(ref apply.ObjectRef, action gitops.DiffAction) gitops.ResourceDiff {
	return gitops.ResourceDiff{Group: ref.Group, Version: ref.Version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Action: action}
}
