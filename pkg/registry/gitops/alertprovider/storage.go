package alertprovider

import (
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
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
)

// Options are what the storage checks writes with.
type Options struct {
	// Authorizer answers whether the writer of an AlertProvider may get the Secret of its
	// secretRef; nil checks nothing (tests of the registry alone).
	Authorizer authorizer.Authorizer
	// Addresses is the notification address policy (notify.Policy of
	// --notification-allowed-cidrs); nil is the default policy, which admits no loopback,
	// link-local or metadata address.
	Addresses *egress.Policy
}

// Storage is everything the API server installs for AlertProviders.
type Storage struct {
	AlertProvider *REST
	Status        *status.REST
}

// NewStorage builds the etcd-backed storage of AlertProviders and their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (Storage, error) {
	if opts.Addresses == nil {
		var err error
		if opts.Addresses, err = egress.Default(); err != nil {
			return Storage{}, err
		}
	}
	strategy := providerStrategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, addresses: opts.Addresses}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.AlertProvider{} },
		NewListFunc:               func() runtime.Object { return &gitops.AlertProviderList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  gitops.Resource("alertproviders"),
		SingularQualifiedResource: gitops.Resource("alertprovider"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return Storage{}, fmt.Errorf("setting up storage of alertproviders: %w", err)
	}
	return Storage{
		AlertProvider: newREST(store, opts),
		Status:        status.New(store, statusStrategy{strategy}),
	}, nil
}

// REST is the storage of the main resource, alertproviders.
type REST struct {
	*access.Guarded
	opts Options
}

// newREST guards the store's writes with the check of what a AlertProvider names.
func newREST(store *genericregistry.Store, opts Options) *REST {
	r := &REST{opts: opts}
	r.Guarded = &access.Guarded{Store: store, Check: access.Typed(r.checkSecret)}
	return r
}

var _ rest.CategoriesProvider = &REST{}

// Categories puts AlertProviders into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }

// checkSecret: Ferry sends the token of the named Secret to the provider's address (and may
// take the address itself from it), so whoever names the Secret, or points the provider
// somewhere else, must be allowed to read it themselves.
func (r *REST) checkSecret(ctx context.Context, p, old *gitops.AlertProvider) error {
	if r.opts.Authorizer == nil || p.Spec.SecretRef == nil {
		return nil
	}
	if old != nil && apiequality.Semantic.DeepEqual(old.Spec, p.Spec) {
		return nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gitops.Resource("alertproviders"), p.Name, fmt.Errorf("no user in the request"))
	}
	secret := p.Spec.SecretRef.Name
	refused, why, err := access.Refused(ctx, r.opts.Authorizer, u, "", "get", "secrets", p.Namespace, secret)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		return apierrors.NewForbidden(gitops.Resource("alertproviders"), p.Name, field.ErrorList{field.Forbidden(
			field.NewPath("spec", "secretRef", "name"),
			fmt.Sprintf("user %q may not get secret %s/%s%s, whose token Ferry would send to the provider", u.GetName(), p.Namespace, secret, why))}.ToAggregate())
	}
	return nil
}
