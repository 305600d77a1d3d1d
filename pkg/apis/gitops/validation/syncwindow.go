package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Bounds of a SyncWindow.
const (
	MaxSyncWindowScheduleLength = 256
	MaxSyncWindowTimeZoneLength = 128
)

// SyncWindowKinds are the values of a SyncWindow's spec.kind.
var SyncWindowKinds = []string{string(v1alpha1.SyncWindowAllow), string(v1alpha1.SyncWindowDeny)}

// ValidateSyncWindow validates a new SyncWindow. Its schedule and time zone are the registry's
// to parse (with the parser the controller evaluates them with).
func ValidateSyncWindow(w *gitops.SyncWindow) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&w.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateSyncWindowSpec(&w.Spec, field.NewPath("spec"))...)
}

// ValidateSyncWindowUpdate validates an update of a SyncWindow.
func ValidateSyncWindowUpdate(w, old *gitops.SyncWindow) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&w.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateSyncWindowSpec(&w.Spec, field.NewPath("spec"))...)
}

func validateSyncWindowSpec(spec *gitops.SyncWindowSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch k := string(spec.Kind); {
	case k == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), "allow or deny"))
	case k != SyncWindowKinds[0] && k != SyncWindowKinds[1]:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("kind"), k, SyncWindowKinds))
	}
	switch n := len(spec.Schedule); {
	case n == 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("schedule"), "five cron fields: minute hour day-of-month month day-of-week"))
	case n > MaxSyncWindowScheduleLength:
		allErrs = append(allErrs, field.TooLong(fldPath.Child("schedule"), "", MaxSyncWindowScheduleLength))
	}
	if spec.Duration.Duration <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("duration"), spec.Duration.Duration.String(), "must be greater than zero, e.g. 1h"))
	}
	if len(spec.TimeZone) > MaxSyncWindowTimeZoneLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("timeZone"), "", MaxSyncWindowTimeZoneLength))
	}
	if spec.Selector == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("selector"), "{} selects every Application of the namespace"))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	return allErrs
}
