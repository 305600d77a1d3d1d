package alert

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
)

// Storage is everything the API server installs for Alerts.
type Storage struct {
	Alert  *REST
	Status *status.REST
}

// NewStorage builds the etcd-backed storage of Alerts and their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (Storage, error) {
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
		Alert:  &REST{Store: store},
		Status: status.New(store, statusStrategy{strategy}),
	}, nil
}

// REST is the storage of the main resource, alerts.
type REST struct {
	*genericregistry.Store
}

var _ rest.CategoriesProvider = &REST{}

// Categories puts Alerts into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }
