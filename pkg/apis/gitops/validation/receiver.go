package validation

import (
	"fmt"
	"unicode/utf8"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

// ReceiverTypes are the values spec.type of a Receiver accepts.
var ReceiverTypes = []gitops.ReceiverType{
	gitops.ReceiverGitHub, gitops.ReceiverGitLab, gitops.ReceiverGitea, gitops.ReceiverBitbucketServer, gitops.ReceiverGenericHMAC,
}

// MaxRefreshReason bounds spec.reason of an ApplicationRefresh and so status.refresh.reason.
const MaxRefreshReason = 256

// ValidateReceiver validates a new Receiver.
func ValidateReceiver(r *gitops.Receiver) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&r.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateReceiverSpec(&r.Spec, field.NewPath("spec"))...)
}

// ValidateReceiverUpdate validates an update of a Receiver's spec and metadata.
func ValidateReceiverUpdate(r, old *gitops.Receiver) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateReceiverSpec(&r.Spec, field.NewPath("spec"))...)
}

// ValidateReceiverStatusUpdate validates an update through the status subresource.
func ValidateReceiverStatusUpdate(r, old *gitops.Receiver) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&r.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	st, path := &r.Status, field.NewPath("status")
	if st.ObservedGeneration < 0 {
		allErrs = append(allErrs, field.Invalid(path.Child("observedGeneration"), st.ObservedGeneration, "must not be negative"))
	}
	return append(allErrs, metav1validation.ValidateConditions(st.Conditions, path.Child("conditions"))...)
}

func validateReceiverSpec(spec *gitops.ReceiverSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	typePath := fldPath.Child("type")
	switch spec.Type {
	case "":
		allErrs = append(allErrs, field.Required(typePath, "the Git host whose webhooks the Receiver accepts"))
	case gitops.ReceiverGitHub, gitops.ReceiverGitLab, gitops.ReceiverGitea, gitops.ReceiverBitbucketServer, gitops.ReceiverGenericHMAC:
	default:
		allErrs = append(allErrs, field.NotSupported(typePath, spec.Type, ReceiverTypes))
	}
	refPath := fldPath.Child("secretRef", "name")
	if spec.SecretRef.Name == "" {
		allErrs = append(allErrs, field.Required(refPath, `a Secret of the Receiver's namespace whose key "token" is the webhook's secret`))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(spec.SecretRef.Name) {
			allErrs = append(allErrs, field.Invalid(refPath, spec.SecretRef.Name, msg))
		}
	}
	selPath := fldPath.Child("selector")
	if spec.Selector == nil {
		allErrs = append(allErrs, field.Required(selPath, "the Applications a push may refresh: {} selects every Application of the namespace"))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
	}
	return allErrs
}

// ValidateApplicationRefresh validates the body of a refresh request. That its name matches the
// URL is checked by the handler, which knows the URL.
func ValidateApplicationRefresh(r *gitops.ApplicationRefresh) field.ErrorList {
	reasonPath := field.NewPath("spec", "reason")
	if n := utf8.RuneCountInString(r.Spec.Reason); n > MaxRefreshReason {
		return field.ErrorList{field.TooLong(reasonPath, "", MaxRefreshReason)}
	}
	if !utf8.ValidString(r.Spec.Reason) {
		return field.ErrorList{field.Invalid(reasonPath, "<bytes>", "must be UTF-8 text")}
	}
	return nil
}

// validateRefreshStatus checks what the refresh subresource and the controller write.
func validateRefreshStatus(r *gitops.RefreshStatus, fldPath *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var allErrs field.ErrorList
	if r.RequestedAt.IsZero() {
		allErrs = append(allErrs, field.Required(fldPath.Child("requestedAt"), ""))
	}
	if n := utf8.RuneCountInString(r.Reason); n > MaxRefreshReason {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("reason"), "", MaxRefreshReason))
	}
	if r.HandledAt != nil && r.RequestedAt.Before(r.HandledAt) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("handledAt"), r.HandledAt.String(), fmt.Sprintf("must not be after requestedAt (%s)", r.RequestedAt.String())))
	}
	return allErrs
}
