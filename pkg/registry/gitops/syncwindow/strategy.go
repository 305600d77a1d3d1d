package syncwindow

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/strategy"
)

// syncWindowStrategy governs writes of SyncWindows: users own the whole object.
type syncWindowStrategy struct {
	strategy.Defaults
	runtime.ObjectTyper
	names.NameGenerator
}

func (syncWindowStrategy) NamespaceScoped() bool { return true }

func (syncWindowStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*gitops.SyncWindow).Generation = 1
}

func (syncWindowStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	w, prev := obj.(*gitops.SyncWindow), old.(*gitops.SyncWindow)
	strategy.NextGeneration(w, prev, w.Spec, prev.Spec)
}

func (syncWindowStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	w := obj.(*gitops.SyncWindow)
	return append(validation.ValidateSyncWindow(w), checkSchedule(&w.Spec)...)
}

func (syncWindowStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	w := obj.(*gitops.SyncWindow)
	return append(validation.ValidateSyncWindowUpdate(w, old.(*gitops.SyncWindow)), checkSchedule(&w.Spec)...)
}

// checkSchedule loads the time zone and parses the schedule as the controller will, so a
// mistake is refused when written, naming its field, rather than leaving a freeze that never
// holds.
func checkSchedule(spec *gitops.SyncWindowSpec) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.TimeZone) <= validation.MaxSyncWindowTimeZoneLength {
		if _, err := syncwindow.LoadLocation(spec.TimeZone); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("spec", "timeZone"), spec.TimeZone, err.Error())}
		}
	}
	if n := len(spec.Schedule); n > 0 && n <= validation.MaxSyncWindowScheduleLength {
		if _, err := syncwindow.ParseSchedule(spec.Schedule, spec.TimeZone); err != nil {
			allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "schedule"), spec.Schedule, err.Error()))
		}
	}
	return allErrs
}

// GetAttrs returns the labels and the selectable fields (its metadata's) of an object.
var GetAttrs = strategy.GetAttrs

// Match is the filter used by list and watch.
var Match = strategy.Match
