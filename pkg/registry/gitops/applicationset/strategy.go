// Package applicationset holds the storage of ApplicationSets: the strategies of writes and
// status writes, the write-time checks of what a set names (the ServiceAccount its Applications
// act as, the credentials of its git generators), and the table kubectl prints.
package applicationset

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

type setStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	validation validation.Options
	templates  validation.TemplateChecker
}

func (setStrategy) NamespaceScoped() bool { return true }

func (setStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (setStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	set := obj.(*gitops.ApplicationSet)
	set.Status = gitops.ApplicationSetStatus{}
	set.Generation = 1
}

func (setStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	set, prev := obj.(*gitops.ApplicationSet), old.(*gitops.ApplicationSet)
	set.Status = prev.Status
	set.Generation = prev.Generation
	if !apiequality.Semantic.DeepEqual(set.Spec, prev.Spec) {
		set.Generation = prev.Generation + 1
	}
}

func (s setStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateApplicationSet(obj.(*gitops.ApplicationSet), s.validation, s.templates)
}

func (setStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (setStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (setStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (setStrategy) Canonicalize(runtime.Object) {}

func (s setStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateApplicationSetUpdate(obj.(*gitops.ApplicationSet), old.(*gitops.ApplicationSet), s.validation, s.templates)
}

func (setStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

type statusStrategy struct{ setStrategy }

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"), fieldpath.MakePathOrDie("metadata", "labels")),
	}
}

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	set, prev := obj.(*gitops.ApplicationSet), old.(*gitops.ApplicationSet)
	set.Spec = prev.Spec
	set.Labels = prev.Labels
	set.Generation = prev.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateApplicationSetStatusUpdate(obj.(*gitops.ApplicationSet), old.(*gitops.ApplicationSet))
}

// GetAttrs returns the labels and the selectable fields of an ApplicationSet.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	set, ok := obj.(*gitops.ApplicationSet)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not an ApplicationSet: %T", obj)
	}
	return labels.Set(set.Labels), generic.ObjectMetaFieldsSet(&set.ObjectMeta, true), nil
}

// Match is the filter used by list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
