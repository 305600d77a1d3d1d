package cluster

import (
	"bytes"
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
)

// Options are what the storage checks writes with.
type Options struct {
	// Authorizer answers whether the writer of a Cluster may get the Secret of its
	// credentialsRef; nil checks nothing (tests of the registry alone).
	Authorizer authorizer.Authorizer
	// CredentialsNamespace is Ferry's namespace, where credentials Secrets live.
	CredentialsNamespace string
}

// Storage is everything the API server installs for Clusters.
type Storage struct {
	Cluster *REST
	Status  *status.REST
}

// NewStorage builds the etcd-backed storage of Clusters and their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (Storage, error) {
	strategy := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.Cluster{} },
		NewListFunc:               func() runtime.Object { return &gitops.ClusterList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  gitops.Resource("clusters"),
		SingularQualifiedResource: gitops.Resource("cluster"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return Storage{}, fmt.Errorf("setting up storage of clusters: %w", err)
	}
	return Storage{
		Cluster: newREST(store, opts),
		Status:  status.New(store, statusStrategy{strategy}),
	}, nil
}

// REST is the storage of the main resource, clusters.
type REST struct {
	*access.Guarded
	opts Options
}

// newREST guards the store's writes with the check of what a Cluster names.
func newREST(store *genericregistry.Store, opts Options) *REST {
	r := &REST{opts: opts}
	r.Guarded = &access.Guarded{Store: store, Check: access.Typed(r.checkCredentials)}
	return r
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets users type `kubectl get fcluster`.
func (*REST) ShortNames() []string { return []string{"fcluster"} }

// Categories puts Clusters into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }

// checkCredentials: whoever points a Cluster at a server sends Ferry's credentials of the named
// Secret there, so they must be allowed to read that Secret themselves. Checked on create, and
// on any change of the spec: the Secret, the server, and what the server is trusted by (caBundle,
// tlsServerName), since a CA or name of the writer's choosing sends the credentials to whoever
// answers with a certificate it signed.
func (r *REST) checkCredentials(ctx context.Context, c, old *gitops.Cluster) error {
	if r.opts.Authorizer == nil {
		return nil
	}
	if old != nil && apiequality.Semantic.DeepEqual(old.Spec, c.Spec) {
		return nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gitops.Resource("clusters"), c.Name, fmt.Errorf("no user in the request"))
	}
	ns, secret := r.opts.CredentialsNamespace, c.Spec.CredentialsRef.Name
	refused, why, err := access.Refused(ctx, r.opts.Authorizer, u, "", "get", "secrets", ns, secret)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		return apierrors.NewForbidden(gitops.Resource("clusters"), c.Name, field.ErrorList{field.Forbidden(
			changedField(c, old),
			fmt.Sprintf("user %q may not get secret %s/%s%s, whose credentials Ferry would send to %s", u.GetName(), ns, secret, why, c.Spec.Server))}.ToAggregate())
	}
	return nil
}

// changedField is the field of c that sends its credentials somewhere new: the Secret or the
// server (reported as the Secret, on create too), else the trust in the server's certificate.
func changedField(c, old *gitops.Cluster) *field.Path {
	spec := field.NewPath("spec")
	switch {
	case old == nil || old.Spec.CredentialsRef != c.Spec.CredentialsRef || old.Spec.Server != c.Spec.Server:
		return spec.Child("credentialsRef", "name")
	case !bytes.Equal(old.Spec.CABundle, c.Spec.CABundle):
		return spec.Child("caBundle")
	case old.Spec.TLSServerName != c.Spec.TLSServerName:
		return spec.Child("tlsServerName")
	}
	return spec
}
