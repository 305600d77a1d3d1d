package alert

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
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
)

// Options are what the storage checks writes with.
type Options struct {
	// Authorizer answers whether the writer of an Alert may get its AlertProvider and list the
	// Applications of its namespace; nil checks nothing (tests of the registry alone).
	Authorizer authorizer.Authorizer
}

// Storage is everything the API server installs for Alerts.
type Storage struct {
	Alert  *REST
	Status *status.REST
}

// NewStorage builds the etcd-backed storage of Alerts and their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (Storage, error) {
	strategy := alertStrategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.Alert{} },
		NewListFunc:               func() runtime.Object { return &gitops.AlertList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  gitops.Resource("alerts"),
		SingularQualifiedResource: gitops.Resource("alert"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return Storage{}, fmt.Errorf("setting up storage of alerts: %w", err)
	}
	return Storage{
		Alert:  newREST(store, opts),
		Status: status.New(store, statusStrategy{strategy}),
	}, nil
}

// REST is the storage of the main resource, alerts.
type REST struct {
	*access.Guarded
	opts Options
}

// newREST guards the store's writes with the check of what a Alert names.
func newREST(store *genericregistry.Store, opts Options) *REST {
	r := &REST{opts: opts}
	r.Guarded = &access.Guarded{Store: store, Check: access.Typed(r.checkReferences)}
	return r
}

var _ rest.CategoriesProvider = &REST{}

// Categories puts Alerts into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }

// checkReferences: an Alert sends, with Ferry's identity, the state of the Applications it
// selects to the address of its AlertProvider, with that provider's credentials. So its writer
// must be allowed to get that AlertProvider (a provider whose address and credentials they may
// not read is not theirs to send through) and to list Applications in the namespace (an Alert
// must not tell them, or anyone reading the provider's channel, what they may not read).
// Checked on create and on every change of the spec.
func (r *REST) checkReferences(ctx context.Context, a, old *gitops.Alert) error {
	if r.opts.Authorizer == nil {
		return nil
	}
	if old != nil && apiequality.Semantic.DeepEqual(old.Spec, a.Spec) {
		return nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gitops.Resource("alerts"), a.Name, fmt.Errorf("no user in the request"))
	}
	ns, provider := a.Namespace, a.Spec.ProviderRef.Name
	var errs field.ErrorList
	if old == nil || old.Spec.ProviderRef != a.Spec.ProviderRef {
		refused, why, err := access.Refused(ctx, r.opts.Authorizer, u, gitops.GroupName, "get", "alertproviders", ns, provider)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if refused {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "providerRef", "name"),
				fmt.Sprintf("user %q may not get alertprovider %s/%s%s", u.GetName(), ns, provider, why)))
		}
	}
	refused, why, err := access.Refused(ctx, r.opts.Authorizer, u, gitops.GroupName, "list", "applications", ns, "")
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "selector"),
			fmt.Sprintf("user %q may not list applications in namespace %s%s, whose state the Alert would send", u.GetName(), ns, why)))
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(gitops.Resource("alerts"), a.Name, errs.ToAggregate())
	}
	return nil
}
