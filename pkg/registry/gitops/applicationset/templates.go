package applicationset

import (
	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
)

// CheckTemplates finds the first string of an ApplicationSet's template that is not a Go
// template, for validation.
func CheckTemplates(set *gitops.ApplicationSet) (string, error) {
	var tmpl v1alpha1.ApplicationSetTemplate
	if err := v1alpha1.Convert_gitops_ApplicationSetTemplate_To_v1alpha1_ApplicationSetTemplate(&set.Spec.Template, &tmpl, nil); err != nil {
		return "spec.template", err
	}
	return generators.ParseStrings(tmpl)
}
