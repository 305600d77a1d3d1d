package application

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

// Differ compares an Application at a revision ("" means its own) with the cluster and returns
// the commit compared and one entry per object, Delete entries included.
type Differ func(ctx context.Context, app *gitops.Application, revision string) (string, []gitops.ResourceDiff, error)

// DiffREST serves GET applications/{name}/diff?revision=.
type DiffREST struct {
	store *genericregistry.Store
	diff  Differ
}

var (
	_ rest.GetterWithOptions    = &DiffREST{}
	_ rest.SingularNameProvider = &DiffREST{}
)

// NewDiffREST serves diffs through the Application store; diff is nil without a target cluster,
// and requests then fail with 503.
func NewDiffREST(store *genericregistry.Store, diff Differ) *DiffREST {
	return &DiffREST{store: store, diff: diff}
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
	sha, items, err := r.diff(ctx, app, opts.Revision)
	if err != nil {
		return nil, err
	}
	out := &gitops.ApplicationDiff{
		ObjectMeta: responseMeta(app),
		Revision:   sha,
		Items:      items,
	}
	for _, it := range items {
		switch it.Action {
		case gitops.DiffCreate:
			out.Summary.Create++
		case gitops.DiffUpdate:
			out.Summary.Update++
		case gitops.DiffDelete:
			out.Summary.Delete++
		default:
			out.Summary.None++
		}
	}
	return out, nil
}
