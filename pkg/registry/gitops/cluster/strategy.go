// Package cluster holds the storage of Clusters: the strategies that decide what a write and a
// status write may change, the write-time check of the credentials Secret a Cluster names, and
// the table kubectl prints.
package cluster

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
)

// clusterStrategy governs writes to the main resource: users own the spec, the status is kept.
type clusterStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) clusterStrategy {
	return clusterStrategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
}

func (clusterStrategy) NamespaceScoped() bool { return false }

// GetResetFields tells server-side apply that status is not the user's to set here.
func (clusterStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (clusterStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	c := obj.(*gitops.Cluster)
	c.Status = gitops.ClusterStatus{}
	c.Generation = 1
}

func (clusterStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	c, prev := obj.(*gitops.Cluster), old.(*gitops.Cluster)
	c.Status = prev.Status
	c.Generation = prev.Generation
	if !apiequality.Semantic.DeepEqual(c.Spec, prev.Spec) {
		c.Generation = prev.Generation + 1
	}
}

func (clusterStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateCluster(obj.(*gitops.Cluster))
}

func (clusterStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (clusterStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (clusterStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (clusterStrategy) Canonicalize(runtime.Object) {}

func (clusterStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterUpdate(obj.(*gitops.Cluster), old.(*gitops.Cluster))
}

func (clusterStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// statusStrategy governs writes through clusters/status: the controller owns the status, spec
// and labels are kept.
type statusStrategy struct {
	clusterStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
		),
	}
}

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	c, prev := obj.(*gitops.Cluster), old.(*gitops.Cluster)
	c.Spec = prev.Spec
	c.Labels = prev.Labels
	c.Generation = prev.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterStatusUpdate(obj.(*gitops.Cluster), old.(*gitops.Cluster))
}

// GetAttrs returns the labels and the selectable fields of a Cluster.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	c, ok := obj.(*gitops.Cluster)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not a Cluster: %T", obj)
	}
	return labels.Set(c.Labels), generic.ObjectMetaFieldsSet(&c.ObjectMeta, false), nil
}

// Match is the filter used by list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
