package receiver

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

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
)

// Options are what the storage checks writes with.
type Options struct {
	// Authorizer answers whether the writer of a Receiver may get its Secret and refresh the
	// Applications of its namespace; nil checks nothing (tests of the registry alone).
	Authorizer authorizer.Authorizer
}

// Storage is everything the API server installs for Receivers.
type Storage struct {
	Receiver *REST
	Status   *status.REST
}

// NewStorage builds the etcd-backed storage of Receivers and their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (Storage, error) {
	strategy := NewStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.Receiver{} },
		NewListFunc:               func() runtime.Object { return &gitops.ReceiverList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  gitops.Resource("receivers"),
		SingularQualifiedResource: gitops.Resource("receiver"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return Storage{}, fmt.Errorf("setting up storage of receivers: %w", err)
	}
	return Storage{
		Receiver: newREST(store, opts),
		Status:   status.New(store, statusStrategy{strategy}),
	}, nil
}

// REST is the storage of the main resource, receivers.
type REST struct {
	*access.Guarded
	opts Options
}

// newREST guards the store's writes with the check of what a Receiver names.
func newREST(store *genericregistry.Store, opts Options) *REST {
	r := &REST{opts: opts}
	r.Guarded = &access.Guarded{Store: store, Check: access.Typed(r.checkReferences)}
	return r
}

var _ rest.CategoriesProvider = &REST{}

// Categories puts Receivers into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }

// checkReferences: a Receiver lends the token of its Secret the power to refresh the
// Applications it selects, with Ferry's identity, and publishes a digest of that token in
// status.webhookPath. So its writer must be allowed to read that Secret (a token they cannot read
// is not theirs to lend) and to refresh Applications in the namespace themselves (a Receiver
// must not do what its writer may not). Checked on create and on every change of the spec.
func (r *REST) checkReferences(ctx context.Context, rcv, old *gitops.Receiver) error {
	if r.opts.Authorizer == nil {
		return nil
	}
	if old != nil && apiequality.Semantic.DeepEqual(old.Spec, rcv.Spec) {
		return nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gitops.Resource("receivers"), rcv.Name, fmt.Errorf("no user in the request"))
	}
	ns, secret := rcv.Namespace, rcv.Spec.SecretRef.Name
	var errs field.ErrorList
	if old == nil || old.Spec.SecretRef != rcv.Spec.SecretRef {
		refused, why, err := access.Refused(ctx, r.opts.Authorizer, u, "", "get", "secrets", ns, secret)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if refused {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "secretRef", "name"),
				fmt.Sprintf("user %q may not get secret %s/%s%s", u.GetName(), ns, secret, why)))
		}
	}
	refused, why, err := access.RefusedSubresource(ctx, r.opts.Authorizer, u, gitops.GroupName, "create", "applications", "refresh", ns)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "selector"),
			fmt.Sprintf("user %q may not create applications/refresh in namespace %s%s, which the Receiver would do for each push", u.GetName(), ns, why)))
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(gitops.Resource("receivers"), rcv.Name, errs.ToAggregate())
	}
	return nil
}
