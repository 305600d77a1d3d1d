package validation

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

// ValidateApplicationPreview checks a preview request on its own, before the Application it
// names is read: what must be there, and that spec.repoURL is a URL the server would accept as
// an Application's repository.
func ValidateApplicationPreview(p *gitops.ApplicationPreview, opts Options) field.ErrorList {
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	if p.Spec.Application == "" {
		allErrs = append(allErrs, field.Required(specPath.Child("application"), "the name of an Application in the preview's namespace"))
	} else {
		for _, msg := range ValidateApplicationName(p.Spec.Application, false) {
			allErrs = append(allErrs, field.Invalid(specPath.Child("application"), p.Spec.Application, msg))
		}
	}
	revPath := specPath.Child("revision")
	if p.Spec.Revision == "" {
		allErrs = append(allErrs, field.Required(revPath, "a branch, tag, full commit SHA or ref such as refs/pull/123/head"))
	} else {
		for _, part := range strings.Split(p.Spec.Revision, " ") {
			if part == "" {
				allErrs = append(allErrs, field.Invalid(revPath, p.Spec.Revision, "revisions of several sources are separated by single spaces"))
				break
			}
			if errs := ValidateRevision(part, revPath); len(errs) > 0 {
				allErrs = append(allErrs, errs...)
				break
			}
		}
	}
	if p.Spec.RepoURL != "" {
		allErrs = append(allErrs, ValidateRepoURL(p.Spec.RepoURL, opts, specPath.Child("repoURL"))...)
	}
	if i := p.Spec.SourceIndex; i != nil {
		switch {
		case p.Spec.RepoURL == "":
			allErrs = append(allErrs, field.Forbidden(specPath.Child("sourceIndex"), "says which source spec.repoURL replaces: set spec.repoURL too"))
		case *i < 0:
			allErrs = append(allErrs, field.Invalid(specPath.Child("sourceIndex"), *i, "must be the index of a source of the Application's spec.sources"))
		}
	}
	return allErrs
}

// ValidatePreviewAgainst checks what a preview asks of the Application it names: the revision
// has one part per source, and spec.repoURL replaces a Git source it can name.
func ValidatePreviewAgainst(p *gitops.ApplicationPreview, app *gitops.Application) field.ErrorList {
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	sources := len(app.Spec.Sources)
	if sources == 0 {
		sources = 1
	}
	if parts := len(strings.Split(p.Spec.Revision, " ")); parts != sources {
		allErrs = append(allErrs, field.Invalid(specPath.Child("revision"), p.Spec.Revision, fmt.Sprintf(
			"Application %q has %d source(s): name one revision for each, in order, separated by single spaces", app.Name, sources)))
	}
	if p.Spec.RepoURL == "" {
		return allErrs
	}
	src := &app.Spec.Source
	if len(app.Spec.Sources) > 0 {
		i := p.Spec.SourceIndex
		if i == nil {
			return append(allErrs, field.Required(specPath.Child("sourceIndex"), fmt.Sprintf(
				"Application %q has %d sources in spec.sources: say which one spec.repoURL replaces", app.Name, len(app.Spec.Sources))))
		}
		if int(*i) >= len(app.Spec.Sources) {
			return append(allErrs, field.Invalid(specPath.Child("sourceIndex"), *i, fmt.Sprintf(
				"Application %q has %d sources in spec.sources", app.Name, len(app.Spec.Sources))))
		}
		src = &app.Spec.Sources[*i]
	} else if p.Spec.SourceIndex != nil && *p.Spec.SourceIndex != 0 {
		return append(allErrs, field.Invalid(specPath.Child("sourceIndex"), *p.Spec.SourceIndex, fmt.Sprintf(
			"Application %q has the one source spec.source", app.Name)))
	}
	if src.Chart != "" {
		allErrs = append(allErrs, field.Invalid(specPath.Child("repoURL"), p.Spec.RepoURL, fmt.Sprintf(
			"the source it replaces is the chart %q of a chart repository; only a Git repository can be replaced by a fork", src.Chart)))
	}
	return allErrs
}
