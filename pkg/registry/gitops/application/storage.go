package application

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
)

// Storage is everything the API server installs for Applications.
type Storage struct {
	Application *REST
	Status      *status.REST
	Sync        *SyncREST
	Rollback    *RollbackREST
	Refresh     *RefreshREST
	Health      *HealthREST
}

// Options are what the storage validates with and reads through.
type Options struct {
	// Validation of Application fields.
	Validation validation.Options
	// Health judges live objects for the health subresource; nil makes it answer 503.
	Health HealthReader
	// CheckSyncResources checks the objects a selective sync names; nil accepts them unchecked
	// (the controller fails the operation then).
	CheckSyncResources SyncResourcesChecker
	// References authorizes what an Application names for the user writing it; nil checks
	// nothing (tests of the registry alone).
	References *ReferenceAuthorizer
	// Windows refuses /sync and /rollback while a SyncWindow blocks them; nil lets them run
	// (tests of the registry alone).
	Windows *WindowGate
}

// NewStorage builds the etcd-backed storage of Applications and their subresources.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (Storage, error) {
	strategy := NewStrategy(scheme, opts.Validation)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.Application{} },
		NewListFunc:               func() runtime.Object { return &gitops.ApplicationList{} },
		PredicateFunc:             MatchApplication,
		DefaultQualifiedResource:  gitops.Resource("applications"),
		SingularQualifiedResource: gitops.Resource("application"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return Storage{}, fmt.Errorf("setting up storage of applications: %w", err)
	}

	if opts.References != nil {
		opts.References.lookup = func(ctx context.Context, namespace, name string) (*gitops.Application, error) {
			obj, err := store.Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return obj.(*gitops.Application), nil
		}
	}

	syncStore := *store
	syncStore.UpdateStrategy = syncStrategy{strategy}
	refreshStore := *store
	refreshStore.UpdateStrategy = refreshStrategy{strategy}

	return Storage{
		Application: &REST{Store: store, references: opts.References},
		Status:      status.New(store, NewStatusStrategy(strategy)),
		Sync:        &SyncREST{store: &syncStore, checkResources: opts.CheckSyncResources, windows: opts.Windows},
		Rollback:    &RollbackREST{store: &syncStore, windows: opts.Windows},
		Refresh:     &RefreshREST{store: &refreshStore},
		Health:      NewHealthREST(store, opts.Health),
	}, nil
}

// REST is the storage of the main resource, applications.
type REST struct {
	*genericregistry.Store
	references *ReferenceAuthorizer
}

// Create stores a new Application once the requesting user may use what it names.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return r.Store.Create(ctx, obj, r.references.onCreate(createValidation), options)
}

// Update changes an Application once the requesting user may use what it names (and, for an
// update that creates, as Create).
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.Store.Update(ctx, name, objInfo, r.references.onCreate(createValidation), r.references.onUpdate(updateValidation), forceAllowCreate, options)
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets users type `kubectl get fapp`.
func (*REST) ShortNames() []string { return []string{"fapp"} }

// Categories puts Applications into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }
