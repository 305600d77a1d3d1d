// Package application holds the storage of Applications and their subresources: the strategies
// that decide what a create, an update, a status update and a sync request may change, and the
// REST objects the API server installs.
package application

import (
	"context"
	"fmt"
	"slices"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
)

// applicationStrategy governs writes to the main resource: users own the spec, the status is
// kept as it was.
type applicationStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	validation validation.Options
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper, opts validation.Options) applicationStrategy {
	return applicationStrategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, validation: opts}
}

func (applicationStrategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the user's to set here.
func (applicationStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (applicationStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	app := obj.(*gitops.Application)
	app.Status = gitops.ApplicationStatus{}
	app.Generation = 1
}

func (applicationStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newApp := obj.(*gitops.Application)
	oldApp := old.(*gitops.Application)
	newApp.Status = oldApp.Status
	newApp.Generation = oldApp.Generation
	if !apiequality.Semantic.DeepEqual(newApp.Spec, oldApp.Spec) {
		newApp.Generation = oldApp.Generation + 1
	}
}

func (s applicationStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateApplication(obj.(*gitops.Application), s.validation)
}

func (applicationStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (applicationStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (applicationStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (applicationStrategy) Canonicalize(runtime.Object) {}

func (s applicationStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateApplicationUpdate(obj.(*gitops.Application), old.(*gitops.Application), s.validation)
}

func (applicationStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

var _ rest.RESTGracefulDeleteStrategy = applicationStrategy{}

// CheckGracefulDelete honours a deletion's propagationPolicy Orphan (kubectl delete
// --cascade=orphan): Ferry's prune finalizer is dropped in the same write that starts the
// deletion, so the controller, whenever it looks, has nothing to prune and no orphan intent to
// miss (the garbage collector may remove its own orphan finalizer before the controller sees it).
// The store calls this hook, with the stored object, only when a deletion starts. Applications
// have no grace period: it always answers false.
func (applicationStrategy) CheckGracefulDelete(_ context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	app, ok := obj.(*gitops.Application)
	if !ok || !orphans(app, options) {
		return false
	}
	kept := app.Finalizers[:0:0]
	for _, f := range app.Finalizers {
		if f != v1alpha1.PruneFinalizer {
			kept = append(kept, f)
		}
	}
	app.Finalizers = kept
	return false
}

// orphans says whether a deletion leaves the Application's objects, as the generic registry
// decides it for the garbage collector: an explicit propagationPolicy (or the older
// orphanDependents) first, else the orphan finalizer the object already carries.
func orphans(app *gitops.Application, options *metav1.DeleteOptions) bool {
	if options != nil {
		//nolint:staticcheck // SA1019: kubectl older than 1.20 still sends orphanDependents
		if options.OrphanDependents != nil {
			return *options.OrphanDependents //nolint:staticcheck // SA1019
		}
		if options.PropagationPolicy != nil {
			return *options.PropagationPolicy == metav1.DeletePropagationOrphan
		}
	}
	return slices.Contains(app.Finalizers, metav1.FinalizerOrphanDependents)
}

// statusStrategy governs writes through applications/status: the controller owns the status,
// spec and labels are kept as they were.
type statusStrategy struct {
	applicationStrategy
}

// NewStatusStrategy returns the strategy of the status subresource.
func NewStatusStrategy(s applicationStrategy) statusStrategy {
	return statusStrategy{s}
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
	newApp := obj.(*gitops.Application)
	oldApp := old.(*gitops.Application)
	newApp.Spec = oldApp.Spec
	newApp.Labels = oldApp.Labels
	newApp.Generation = oldApp.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateApplicationStatusUpdate(obj.(*gitops.Application), old.(*gitops.Application))
}

// syncStrategy governs the write a sync or rollback request makes: only status.operation and
// status.rollback (which a rollback sets and a sync ends) change.
type syncStrategy struct {
	applicationStrategy
}

func (syncStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newApp := obj.(*gitops.Application)
	oldApp := old.(*gitops.Application)
	op, rollback := newApp.Status.Operation, newApp.Status.Rollback
	newApp.Spec = oldApp.Spec
	newApp.Status = oldApp.Status
	newApp.Status.Operation, newApp.Status.Rollback = op, rollback
	newApp.Labels = oldApp.Labels
	newApp.Annotations = oldApp.Annotations
	newApp.Generation = oldApp.Generation
}

func (syncStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateApplicationStatusUpdate(obj.(*gitops.Application), old.(*gitops.Application))
}

func (refreshStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateApplicationStatusUpdate(obj.(*gitops.Application), old.(*gitops.Application))
}

// GetAttrs returns the labels and the selectable fields of an Application.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	app, ok := obj.(*gitops.Application)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not an Application: %T", obj)
	}
	return labels.Set(app.Labels), SelectableFields(app), nil
}

// SelectableFields are the fields a field selector may name.
func SelectableFields(app *gitops.Application) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		v1alpha1.FieldRepoURL:    gitops.PrimarySource(&app.Spec).RepoURL,
		v1alpha1.FieldSyncStatus: string(app.Status.Sync.Status),
		v1alpha1.FieldCluster:    app.Spec.Destination.Cluster,
	}, &app.ObjectMeta, true)
}

// MatchApplication is the filter used by list and watch.
func MatchApplication(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{
		Label:    label,
		Field:    field,
		GetAttrs: GetAttrs,
	}
}
