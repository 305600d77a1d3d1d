package validation

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

// Bounds of an ApplicationSet.
const (
	MaxGenerators   = 16
	MaxListElements = 1000
	MaxGlobs        = 64
)

// TemplateChecker says which string of an ApplicationSet's template does not parse as a Go
// template (the generators package, set by the API server; nil checks nothing).
type TemplateChecker func(set *gitops.ApplicationSet) (fieldPath string, err error)

// ValidateApplicationSet validates a new ApplicationSet.
func ValidateApplicationSet(set *gitops.ApplicationSet, opts Options, templates TemplateChecker) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&set.ObjectMeta, true, ValidateApplicationName, field.NewPath("metadata"))
	return append(allErrs, validateApplicationSetSpec(set, opts, templates)...)
}

// ValidateApplicationSetUpdate validates an update of an ApplicationSet's spec and metadata.
func ValidateApplicationSetUpdate(set, old *gitops.ApplicationSet, opts Options, templates TemplateChecker) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&set.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateApplicationSetSpec(set, opts, templates)...)
}

// ValidateApplicationSetStatusUpdate validates an update through the status subresource.
func ValidateApplicationSetStatusUpdate(set, old *gitops.ApplicationSet) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&set.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, metav1validation.ValidateConditions(set.Status.Conditions, field.NewPath("status", "conditions"))...)
}

func validateApplicationSetSpec(set *gitops.ApplicationSet, opts Options, templates TemplateChecker) field.ErrorList {
	spec, fldPath := &set.Spec, field.NewPath("spec")
	var allErrs field.ErrorList
	gens := fldPath.Child("generators")
	switch n := len(spec.Generators); {
	case n == 0:
		allErrs = append(allErrs, field.Required(gens, "at least one generator: list, clusters, git or matrix"))
	case n > MaxGenerators:
		allErrs = append(allErrs, field.TooMany(gens, n, MaxGenerators))
	}
	for i, g := range spec.Generators {
		p := gens.Index(i)
		set := 0
		for _, isSet := range []bool{g.List != nil, g.Clusters != nil, g.Git != nil, g.Matrix != nil} {
			if isSet {
				set++
			}
		}
		if set != 1 {
			allErrs = append(allErrs, field.Invalid(p, fmt.Sprintf("%d generators", set), "set exactly one of list, clusters, git and matrix"))
			continue
		}
		if g.Matrix != nil {
			allErrs = append(allErrs, validateMatrix(g.Matrix, opts, p.Child("matrix"))...)
			continue
		}
		allErrs = append(allErrs, validateNestedGenerator(gitops.ApplicationSetNestedGenerator{List: g.List, Clusters: g.Clusters, Git: g.Git}, opts, p)...)
	}
	meta := fldPath.Child("template", "metadata", "name")
	if spec.Template.Metadata.Name == "" {
		allErrs = append(allErrs, field.Required(meta, "the name of each generated Application, a template such as guestbook-{{.name}}"))
	}
	if templates != nil {
		if at, err := templates(set); err != nil {
			// The template is checked as JSON: at is its own dotted path.
			allErrs = append(allErrs, &field.Error{Type: field.ErrorTypeInvalid, Field: at, BadValue: "<template>", Detail: "not a Go template: " + err.Error()})
		}
	}
	if sa := spec.ServiceAccountName; sa != "" {
		for _, msg := range validation.IsDNS1123Label(sa) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceAccountName"), sa, msg))
		}
	}
	switch spec.SyncPolicy.ApplicationsSync {
	case "", gitops.ApplicationsSyncSync, gitops.ApplicationsSyncCreateUpdate, gitops.ApplicationsSyncCreateOnly:
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("syncPolicy", "applicationsSync"), spec.SyncPolicy.ApplicationsSync,
			[]gitops.ApplicationsSyncPolicy{gitops.ApplicationsSyncSync, gitops.ApplicationsSyncCreateUpdate, gitops.ApplicationsSyncCreateOnly}))
	}
	if spec.Strategy != nil {
		allErrs = append(allErrs, validateStrategy(spec.Strategy, fldPath.Child("strategy"))...)
	}
	return allErrs
}

// MaxRolloutSteps bounds spec.strategy.rollingSync.steps.
const MaxRolloutSteps = 32

func validateStrategy(st *gitops.ApplicationSetStrategy, fldPath *field.Path) field.ErrorList {
	if st.RollingSync == nil {
		return nil
	}
	var allErrs field.ErrorList
	steps := fldPath.Child("rollingSync", "steps")
	switch n := len(st.RollingSync.Steps); {
	case n == 0:
		allErrs = append(allErrs, field.Required(steps, "at least one step: a label selector over the generated Applications"))
	case n > MaxRolloutSteps:
		allErrs = append(allErrs, field.TooMany(steps, n, MaxRolloutSteps))
	}
	names := map[string]bool{}
	for i, step := range st.RollingSync.Steps {
		p := steps.Index(i)
		if step.Name != "" {
			for _, msg := range validation.IsDNS1123Label(step.Name) {
				allErrs = append(allErrs, field.Invalid(p.Child("name"), step.Name, msg))
			}
			if names[step.Name] {
				allErrs = append(allErrs, field.Duplicate(p.Child("name"), step.Name))
			}
			names[step.Name] = true
		}
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(&step.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
		if step.MaxUpdate != nil {
			allErrs = append(allErrs, validateMaxUpdate(*step.MaxUpdate, p.Child("maxUpdate"))...)
		}
	}
	return allErrs
}

// validateMaxUpdate accepts a count of zero or more, or a percentage from 0% to 100%.
func validateMaxUpdate(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if v.Type == intstr.Int {
		if v.IntVal < 0 {
			return field.ErrorList{field.Invalid(fldPath, v.IntVal, "must be zero or more (zero holds the rollout before this step)")}
		}
		return nil
	}
	digits, ok := strings.CutSuffix(v.StrVal, "%")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 0 || n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v.StrVal, "a count such as 2, or a percentage from 0% to 100% such as 25%")}
	}
	return nil
}

func validateMatrix(m *gitops.MatrixGenerator, opts Options, fldPath *field.Path) field.ErrorList {
	if n := len(m.Generators); n != 2 {
		return field.ErrorList{field.Invalid(fldPath.Child("generators"), n, "a matrix combines exactly two generators")}
	}
	var allErrs field.ErrorList
	for i, g := range m.Generators {
		allErrs = append(allErrs, validateNestedGenerator(g, opts, fldPath.Child("generators").Index(i))...)
	}
	return allErrs
}

func validateNestedGenerator(g gitops.ApplicationSetNestedGenerator, opts Options, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	set := 0
	for _, isSet := range []bool{g.List != nil, g.Clusters != nil, g.Git != nil} {
		if isSet {
			set++
		}
	}
	if set != 1 {
		return field.ErrorList{field.Invalid(fldPath, fmt.Sprintf("%d generators", set), "set exactly one of list, clusters and git (a matrix holds no matrix)")}
	}
	switch {
	case g.List != nil:
		p := fldPath.Child("list", "elements")
		if n := len(g.List.Elements); n > MaxListElements {
			allErrs = append(allErrs, field.TooMany(p, n, MaxListElements))
		}
		for i, e := range g.List.Elements {
			var obj map[string]any
			if err := json.Unmarshal(e.Raw, &obj); err != nil || obj == nil {
				allErrs = append(allErrs, field.Invalid(p.Index(i), string(e.Raw), "must be an object whose fields are the parameters"))
			}
		}
	case g.Clusters != nil:
		allErrs = append(allErrs, metav1validation.ValidateLabelSelector(&g.Clusters.Selector, metav1validation.LabelSelectorValidationOptions{}, fldPath.Child("clusters", "selector"))...)
	case g.Git != nil:
		p := fldPath.Child("git")
		allErrs = append(allErrs, ValidateRepoURL(g.Git.RepoURL, opts, p.Child("repoURL"))...)
		if g.Git.Revision != "" {
			allErrs = append(allErrs, ValidateRevision(g.Git.Revision, p.Child("revision"))...)
		}
		if ref := g.Git.CredentialsRef; ref != nil {
			for _, msg := range validation.IsDNS1123Subdomain(ref.Name) {
				allErrs = append(allErrs, field.Invalid(p.Child("credentialsRef", "name"), ref.Name, msg))
			}
		}
		if len(g.Git.Directories) == 0 && len(g.Git.Files) == 0 {
			allErrs = append(allErrs, field.Required(p, "directories or files to generate from"))
		}
		if n := len(g.Git.Directories) + len(g.Git.Files); n > MaxGlobs {
			allErrs = append(allErrs, field.TooMany(p, n, MaxGlobs))
		}
		for i, d := range g.Git.Directories {
			allErrs = append(allErrs, validateRepoGlob(d.Path, p.Child("directories").Index(i).Child("path"))...)
		}
		for i, f := range g.Git.Files {
			allErrs = append(allErrs, validateRepoGlob(f.Path, p.Child("files").Index(i).Child("path"))...)
		}
	}
	return allErrs
}

// validateRepoGlob checks a glob of repository paths: relative, no "..", valid syntax.
func validateRepoGlob(glob string, fldPath *field.Path) field.ErrorList {
	switch {
	case glob == "":
		return field.ErrorList{field.Required(fldPath, "a path glob such as apps/*")}
	case strings.HasPrefix(glob, "/") || glob == ".." || strings.HasPrefix(glob, "../") || strings.Contains(glob, "/../"):
		return field.ErrorList{field.Invalid(fldPath, glob, "must be relative to the repository root, without ..")}
	}
	if _, err := path.Match(glob, ""); err != nil {
		return field.ErrorList{field.Invalid(fldPath, glob, "not a glob: "+err.Error())}
	}
	return nil
}
