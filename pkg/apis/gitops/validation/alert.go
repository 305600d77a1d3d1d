package validation

import (
	"slices"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Bounds of Alerts and AlertProviders.
const (
	MaxAlertWhenLength     = 4096
	MaxAlertTemplateLength = 8192
	MaxAlertChannelLength  = 256
)

// AlertProviderTypes are the values of an AlertProvider's spec.type.
var AlertProviderTypes = []string{
	string(v1alpha1.AlertProviderGeneric), string(v1alpha1.AlertProviderSlack), string(v1alpha1.AlertProviderMSTeams),
	string(v1alpha1.AlertProviderGitHub), string(v1alpha1.AlertProviderGitLab), string(v1alpha1.AlertProviderGitea),
	string(v1alpha1.AlertProviderAlertmanager),
}

// ValidateAlertProvider validates a new AlertProvider. The address's network policy is the
// registry's to check (it depends on the server's --notification-allowed-cidrs).
func ValidateAlertProvider(p *gitops.AlertProvider) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&p.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateAlertProviderSpec(&p.Spec, field.NewPath("spec"))...)
}

// ValidateAlertProviderUpdate validates an update of an AlertProvider's spec and metadata.
func ValidateAlertProviderUpdate(p, old *gitops.AlertProvider) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateAlertProviderSpec(&p.Spec, field.NewPath("spec"))...)
}

// ValidateAlertProviderStatusUpdate validates an update through the status subresource.
func ValidateAlertProviderStatusUpdate(p, old *gitops.AlertProvider) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, metav1validation.ValidateConditions(p.Status.Conditions, field.NewPath("status", "conditions"))...)
}

func validateAlertProviderSpec(spec *gitops.AlertProviderSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch t := string(spec.Type); {
	case t == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), ""))
	case !slices.Contains(AlertProviderTypes, t):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), t, AlertProviderTypes))
	}
	if spec.Address == "" && spec.SecretRef == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("address"), "the URL alerts are sent to, unless the Secret of spec.secretRef holds it under \"address\""))
	}
	if len(spec.Address) > MaxRepoURLLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("address"), "", MaxRepoURLLength))
	}
	if len(spec.Channel) > MaxAlertChannelLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("channel"), "", MaxAlertChannelLength))
	}
	if spec.Channel != "" && spec.Type != gitops.AlertProviderType(v1alpha1.AlertProviderSlack) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("channel"), spec.Channel, "only a slack provider has a channel"))
	}
	if ref := spec.SecretRef; ref != nil {
		allErrs = append(allErrs, validateLocalName(ref.Name, fldPath.Child("secretRef", "name"))...)
	}
	return allErrs
}

// validateLocalName checks the name of an object of the same namespace.
func validateLocalName(name string, fldPath *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

// ValidateAlert validates a new Alert. Its CEL expression and template are the registry's to
// compile (with the controller's environment).
func ValidateAlert(a *gitops.Alert) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&a.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateAlertSpec(&a.Spec, field.NewPath("spec"))...)
}

// ValidateAlertUpdate validates an update of an Alert's spec and metadata.
func ValidateAlertUpdate(a, old *gitops.Alert) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&a.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateAlertSpec(&a.Spec, field.NewPath("spec"))...)
}

// ValidateAlertStatusUpdate validates an update through the status subresource: the status must
// stay small.
func ValidateAlertStatusUpdate(a, old *gitops.Alert) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&a.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	st, path := &a.Status, field.NewPath("status")
	allErrs = append(allErrs, metav1validation.ValidateConditions(st.Conditions, path.Child("conditions"))...)
	if n := len(st.Fired); n > v1alpha1.MaxAlertFired {
		allErrs = append(allErrs, field.TooMany(path.Child("fired"), n, v1alpha1.MaxAlertFired))
	}
	if n := len(st.RecentDeliveries); n > v1alpha1.MaxAlertDeliveries {
		allErrs = append(allErrs, field.TooMany(path.Child("recentDeliveries"), n, v1alpha1.MaxAlertDeliveries))
	}
	return allErrs
}

func validateAlertSpec(spec *gitops.AlertSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalName(spec.ProviderRef.Name, fldPath.Child("providerRef", "name"))
	triggers := fldPath.Child("triggers")
	if len(spec.Triggers) == 0 {
		allErrs = append(allErrs, field.Required(triggers, "at least one trigger"))
	}
	names := make([]string, len(v1alpha1.AlertTriggers))
	for i, t := range v1alpha1.AlertTriggers {
		names[i] = string(t)
	}
	seen := map[gitops.AlertTrigger]bool{}
	for i, t := range spec.Triggers {
		switch {
		case !slices.Contains(names, string(t)):
			allErrs = append(allErrs, field.NotSupported(triggers.Index(i), string(t), names))
		case seen[t]:
			allErrs = append(allErrs, field.Duplicate(triggers.Index(i), string(t)))
		}
		seen[t] = true
	}
	if spec.Selector == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("selector"), "{} selects every Application of the namespace"))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("selector"))...)
	}
	if n := len(spec.When); n > MaxAlertWhenLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("when"), "", MaxAlertWhenLength))
	}
	if n := len(spec.Template); n > MaxAlertTemplateLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("template"), "", MaxAlertTemplateLength))
	}
	return allErrs
}
