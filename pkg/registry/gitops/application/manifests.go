package application

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/diff"
)

// ManifestsRenderer renders an Application at a revision ("" means its own) and returns the
// commit it rendered and the objects, prepared as Ferry would apply them.
type ManifestsRenderer func(ctx context.Context, app *gitops.Application, revision string) (string, []*unstructured.Unstructured, error)

// ManifestsREST serves GET applications/{name}/manifests?revision=.
type ManifestsREST struct {
	store     *genericregistry.Store
	render    ManifestsRenderer
	decrypted decryptedReadAuthorizer
}

var (
	_ rest.GetterWithOptions    = &ManifestsREST{}
	_ rest.SingularNameProvider = &ManifestsREST{}
)

// NewManifestsREST serves manifests through the Application store; render is nil when the
// server has no target cluster (Ferry needs one to default namespaces), and requests then fail
// with 503. authz (the server's delegated authorizer) decides who may read a render that
// decrypts; nil lets everyone who may get the subresource.
func NewManifestsREST(store *genericregistry.Store, render ManifestsRenderer, authz authorizer.Authorizer) *ManifestsREST {
	return &ManifestsREST{store: store, render: render, decrypted: decryptedReadAuthorizer{authz}}
}

// New returns an empty ApplicationManifests.
func (r *ManifestsREST) New() runtime.Object { return &gitops.ApplicationManifests{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *ManifestsREST) Destroy() {}

// GetSingularName is the singular of the response kind.
func (r *ManifestsREST) GetSingularName() string { return "applicationmanifests" }

// NewGetOptions returns the query options: ?revision=.
func (r *ManifestsREST) NewGetOptions() (runtime.Object, bool, string) {
	return &gitops.ApplicationManifestsOptions{}, false, ""
}

// Get renders the Application at the requested revision.
func (r *ManifestsREST) Get(ctx context.Context, name string, options runtime.Object) (runtime.Object, error) {
	opts, ok := options.(*gitops.ApplicationManifestsOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unexpected options %T", options))
	}
	if r.render == nil {
		return nil, apierrors.NewServiceUnavailable("ferry-apiserver has no target cluster to render for (start it with --kubeconfig, --target-kubeconfig or in a cluster)")
	}
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	app := obj.(*gitops.Application)
	if err := r.decrypted.check(ctx, app, "manifests"); err != nil {
		return nil, err
	}
	sha, objects, err := r.render(ctx, app, opts.Revision)
	if err != nil {
		return nil, err
	}
	out := &gitops.ApplicationManifests{
		ObjectMeta: responseMeta(app),
		Revision:   sha,
	}
	for _, o := range objects {
		diff.MaskSecret(o)
		raw, err := o.MarshalJSON()
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		out.Objects = append(out.Objects, runtime.RawExtension{Raw: raw})
	}
	return out, nil
}
