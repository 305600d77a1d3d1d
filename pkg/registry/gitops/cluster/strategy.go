// Package cluster holds the storage of Clusters: the strategies that decide what a write and a
// status write may change, the write-time check of the credentials Secret a Cluster names, and
// the table kubectl prints.
package cluster

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/strategy"
)

// clusterStrategy governs writes to the main resource: users own the spec, the status is kept.
type clusterStrategy struct {
	strategy.Defaults
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
	return strategy.StatusReset()
}

func (clusterStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	c := obj.(*gitops.Cluster)
	c.Status = gitops.ClusterStatus{}
	c.Generation = 1
}

func (clusterStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	c, prev := obj.(*gitops.Cluster), old.(*gitops.Cluster)
	c.Status = prev.Status
	strategy.NextGeneration(c, prev, c.Spec, prev.Spec)
}

func (clusterStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateCluster(obj.(*gitops.Cluster))
}

func (clusterStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterUpdate(obj.(*gitops.Cluster), old.(*gitops.Cluster))
}

// statusStrategy governs writes through clusters/status: the controller owns the status, spec
// and labels are kept.
type statusStrategy struct {
	clusterStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return strategy.SpecReset()
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

// GetAttrs returns the labels and the selectable fields (its metadata's) of an object.
var GetAttrs = strategy.GetAttrs

// Match is the filter used by list and watch.
var Match = strategy.Match
