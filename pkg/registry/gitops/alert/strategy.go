// Package alertprovider holds the storage of Alerts: the strategies that decide what a
// write and a status write may change, the write-time checks of the address (the notification
// address policy) and of the Secret a provider names, and the table kubectl prints.
package alert

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
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
)

// alertStrategy governs writes to the main resource: users own the spec, the status is kept.
type alertStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func (alertStrategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the user's to set here.
func (alertStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (alertStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	p := obj.(*gitops.Alert)
	p.Status = gitops.AlertStatus{}
	p.Generation = 1
}

func (alertStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*gitops.Alert), old.(*gitops.Alert)
	p.Status = prev.Status
	p.Generation = prev.Generation
	if !apiequality.Semantic.DeepEqual(p.Spec, prev.Spec) {
		p.Generation = prev.Generation + 1
	}
}

func (alertStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	p := obj.(*gitops.Alert)
	return append(validation.ValidateAlert(p), checkExpressions(&p.Spec)...)
}

func (alertStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	p := obj.(*gitops.Alert)
	return append(validation.ValidateAlertUpdate(p, old.(*gitops.Alert)), checkExpressions(&p.Spec)...)
}

// checkExpressions compiles spec.when and parses spec.template as the controller will, so a
// mistake is refused when written, naming its field, rather than found at the first alert.
func checkExpressions(spec *gitops.AlertSpec) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.When) <= validation.MaxAlertWhenLength {
		if _, err := notify.CompileWhen(spec.When); err != nil {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "when"), spec.When, err.Error()))
		}
	}
	if len(spec.Template) <= validation.MaxAlertTemplateLength {
		if _, err := notify.ParseTemplate(spec.Template); err != nil {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "template"), spec.Template, err.Error()))
		}
	}
	return allErrs
}

func (alertStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (alertStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (alertStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (alertStrategy) Canonicalize(runtime.Object) {}

func (alertStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// statusStrategy governs writes through alerts/status: the controller owns the status,
// spec and labels are kept.
type statusStrategy struct {
	alertStrategy
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
	p, prev := obj.(*gitops.Alert), old.(*gitops.Alert)
	p.Spec = prev.Spec
	p.Labels = prev.Labels
	p.Generation = prev.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateAlertStatusUpdate(obj.(*gitops.Alert), old.(*gitops.Alert))
}

// GetAttrs returns the labels and the selectable fields of an Alert.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	p, ok := obj.(*gitops.Alert)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not an Alert: %T", obj)
	}
	return labels.Set(p.Labels), generic.ObjectMetaFieldsSet(&p.ObjectMeta, true), nil
}

// Match is the filter used by list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
