// Package syncwindow holds the storage of SyncWindows: the strategy that decides what a write
// may change, the write-time check of the schedule and time zone (parsed as the controller
// will), and the table kubectl prints, with whether each window is in force now.
package syncwindow

import (
	"context"
	"fmt"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// REST is the storage of SyncWindows. They have no status: whether a window is in force and
// when that changes is computed when read (the table's Active and Next Change columns), and the
// Applications it holds say so in their SyncWindow condition.
type REST struct {
	*genericregistry.Store
}

var _ rest.CategoriesProvider = &REST{}

// Categories puts SyncWindows into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }

// NewStorage builds the etcd-backed storage of SyncWindows.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*REST, error) {
	strategy := syncWindowStrategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.SyncWindow{} },
		NewListFunc:               func() runtime.Object { return &gitops.SyncWindowList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  gitops.Resource("syncwindows"),
		SingularQualifiedResource: gitops.Resource("syncwindow"),

		CreateStrategy: strategy,
		UpdateStrategy: strategy,
		DeleteStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, fmt.Errorf("setting up storage of syncwindows: %w", err)
	}
	return &REST{Store: store}, nil
}

// ListIn lists the SyncWindows of a namespace, as the server, in the versioned form
// pkg/gitops/syncwindow evaluates: /sync and /rollback ask it whether a window blocks them.
func (r *REST) ListIn(ctx context.Context, namespace string) ([]v1alpha1.SyncWindow, error) {
	obj, err := r.List(genericapirequest.WithNamespace(ctx, namespace), &metainternalversion.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing the sync windows of namespace %s: %w", namespace, err)
	}
	items := obj.(*gitops.SyncWindowList).Items
	out := make([]v1alpha1.SyncWindow, len(items))
	for i := range items {
		if err := v1alpha1.Convert_gitops_SyncWindow_To_v1alpha1_SyncWindow(&items[i], &out[i], nil); err != nil {
			return nil, fmt.Errorf("converting sync window %s/%s: %w", namespace, items[i].Name, err)
		}
	}
	return out, nil
}
