// Package alert holds the storage of Alerts: the strategies that decide what a write and a
// status write may change, the write-time compilation of spec.when and spec.template, and the
// table kubectl prints.
package alert

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/strategy"
)

// alertStrategy governs writes to the main resource: users own the spec, the status is kept.
type alertStrategy struct {
	strategy.Defaults
	runtime.ObjectTyper
	names.NameGenerator
}

func (alertStrategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the user's to set here.
func (alertStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return strategy.StatusReset()
}

func (alertStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	p := obj.(*gitops.Alert)
	p.Status = gitops.AlertStatus{}
	p.Generation = 1
}

func (alertStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*gitops.Alert), old.(*gitops.Alert)
	p.Status = prev.Status
	strategy.NextGeneration(p, prev, p.Spec, prev.Spec)
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

// statusStrategy governs writes through alerts/status: the controller owns the status,
// spec and labels are kept.
type statusStrategy struct {
	alertStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return strategy.SpecReset()
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

// GetAttrs returns the labels and the selectable fields (its metadata's) of an object.
var GetAttrs = strategy.GetAttrs

// Match is the filter used by list and watch.
var Match = strategy.Match
