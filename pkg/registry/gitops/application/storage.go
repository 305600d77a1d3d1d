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
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
)

// Storage is everything the API server installs for Applications.
type Storage struct {
	Application *REST
	Status      *StatusREST
	Sync        *SyncREST
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

	statusStore := *store
	statusStrategy := NewStatusStrategy(strategy)
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy

	syncStore := *store
	syncStore.UpdateStrategy = syncStrategy{strategy}

	return Storage{
		Application: &REST{Store: store, references: opts.References},
		Status:      &StatusREST{store: &statusStore},
		Sync:        &SyncREST{store: &syncStore, checkResources: opts.CheckSyncResources},
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

// StatusREST is the storage of applications/status.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher              = &StatusREST{}
	_ rest.ResetFieldsStrategy  = &StatusREST{}
	_ rest.TableConvertor       = &StatusREST{}
	_ rest.SingularNameProvider = &StatusREST{}
)

// New returns an empty Application.
func (r *StatusREST) New() runtime.Object { return &gitops.Application{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *StatusREST) Destroy() {}

// GetSingularName is the singular of the parent resource.
func (r *StatusREST) GetSingularName() string { return r.store.GetSingularName() }

// Get returns the Application, so that `kubectl get --subresource=status` works.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status of an Application; it never creates one.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields tells server-side apply which fields a status write cannot own.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable prints a status read like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
