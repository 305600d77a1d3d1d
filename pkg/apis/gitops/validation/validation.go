// Package validation checks Applications and sync requests. Every error names the field it is
// about, so `kubectl apply` tells the user exactly what to fix.
package validation

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Options are the server settings validation depends on.
type Options struct {
	// AllowFileRepositories admits file:// repository URLs. Off by default: a file URL reads
	// the server's own disk.
	AllowFileRepositories bool
}

// Bounds of spec.syncPolicy.
const (
	MinInterval        = 10 * time.Second
	MaxInterval        = 24 * time.Hour
	MinWaveTimeout     = time.Second
	MaxWaveTimeout     = time.Hour
	MinBackoffDuration = time.Second
	MaxBackoffFactor   = 10
	MaxRetryLimit      = 100
	MaxPathLength      = 1024
	MaxRevisionLength  = 255
	MaxRepoURLLength   = 2048
)

var (
	// A 40-hex commit SHA; abbreviated SHAs are ambiguous and refused.
	commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// scp-like Git URLs: [user@]host:path, where host has no slash and path does not start with //.
	scpLikeURL = regexp.MustCompile(`^(?:[A-Za-z0-9._~-]+@)?[A-Za-z0-9][A-Za-z0-9.-]*:[^\s]+$`)
	hexOnly    = regexp.MustCompile(`^[0-9a-fA-F]+$`)
)

// ValidateApplicationName is the name rule of Applications: a DNS-1123 subdomain.
var ValidateApplicationName = apimachineryvalidation.NameIsDNSSubdomain

// ValidateApplication validates a new Application.
func ValidateApplication(app *gitops.Application, opts Options) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&app.ObjectMeta, true, ValidateApplicationName, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateApplicationSpec(&app.Spec, opts, field.NewPath("spec"))...)
	allErrs = append(allErrs, validateDependsOn(app, field.NewPath("spec", "dependsOn"))...)
	return allErrs
}

// ValidateApplicationUpdate validates an update of an Application's spec and metadata.
func ValidateApplicationUpdate(app, old *gitops.Application, opts Options) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&app.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateApplicationSpec(&app.Spec, opts, field.NewPath("spec"))...)
	allErrs = append(allErrs, validateDependsOn(app, field.NewPath("spec", "dependsOn"))...)
	return allErrs
}

// MaxDependsOn bounds spec.dependsOn.
const MaxDependsOn = 32

// validateDependsOn checks the names, and refuses a duplicate or the Application itself.
func validateDependsOn(app *gitops.Application, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if n := len(app.Spec.DependsOn); n > MaxDependsOn {
		allErrs = append(allErrs, field.TooMany(fldPath, n, MaxDependsOn))
	}
	seen := map[string]bool{}
	for i, ref := range app.Spec.DependsOn {
		path := fldPath.Index(i)
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(path.Child("name"), "the name of an Application"))
		} else {
			for _, msg := range ValidateApplicationName(ref.Name, false) {
				allErrs = append(allErrs, field.Invalid(path.Child("name"), ref.Name, msg))
			}
		}
		if ns := ref.Namespace; ns != "" {
			for _, msg := range validation.IsDNS1123Label(ns) {
				allErrs = append(allErrs, field.Invalid(path.Child("namespace"), ns, msg))
			}
		}
		key := ref.Key(app.Namespace)
		switch {
		case key == (types.NamespacedName{Namespace: app.Namespace, Name: app.Name}).String():
			allErrs = append(allErrs, field.Invalid(path, key, "an Application cannot depend on itself"))
		case seen[key]:
			allErrs = append(allErrs, field.Duplicate(path, key))
		}
		seen[key] = true
	}
	return allErrs
}

// ValidateApplicationStatusUpdate validates an update through the status subresource.
func ValidateApplicationStatusUpdate(app, old *gitops.Application) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&app.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateApplicationStatus(&app.Status, field.NewPath("status"))...)
	return allErrs
}

// ValidateApplicationSpec validates the desired state of an Application.
func ValidateApplicationSpec(spec *gitops.ApplicationSpec, opts Options, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateSources(spec, opts, fldPath)...)
	if ns := spec.Destination.Namespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("destination", "namespace"), ns, msg))
		}
	}
	if c := spec.Destination.Cluster; c != "" {
		for _, msg := range ValidateClusterName(c, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("destination", "cluster"), c, msg))
		}
	}
	if sa := spec.ServiceAccountName; sa != "" {
		for _, msg := range validation.IsDNS1123Label(sa) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceAccountName"), sa, msg))
		}
	}
	allErrs = append(allErrs, validateSyncPolicy(&spec.SyncPolicy, fldPath.Child("syncPolicy"))...)
	for i := range spec.IgnoreDifferences {
		allErrs = append(allErrs, validateIgnoreDifferences(&spec.IgnoreDifferences[i], fldPath.Child("ignoreDifferences").Index(i))...)
	}
	if d := spec.Decryption; d != nil {
		allErrs = append(allErrs, validateDecryption(d, fldPath.Child("decryption"))...)
	}
	return allErrs
}

// validateDecryption insists on SOPS and a Secret: Ferry holds no keys of its own, so an
// Application without a Secret could decrypt nothing.
func validateDecryption(d *gitops.Decryption, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch d.Provider {
	case gitops.DecryptionProviderSOPS:
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("provider"), `"sops"`))
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("provider"), d.Provider, []string{gitops.DecryptionProviderSOPS}))
	}
	refPath := fldPath.Child("secretRef", "name")
	switch {
	case d.SecretRef == nil || d.SecretRef.Name == "":
		allErrs = append(allErrs, field.Required(refPath, "the name of a Secret in the Application's namespace holding the age (*.agekey) or PGP (*.asc) private keys"))
	default:
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(d.SecretRef.Name, false) {
			allErrs = append(allErrs, field.Invalid(refPath, d.SecretRef.Name, msg))
		}
	}
	return allErrs
}

// MaxSources bounds spec.sources.
const MaxSources = 20

// validateSources checks spec.source, or spec.sources when it is used instead: each source, the
// refs that name them, and that something is left to render.
func validateSources(spec *gitops.ApplicationSpec, opts Options, fldPath *field.Path) field.ErrorList {
	if len(spec.Sources) == 0 {
		return validateSource(&spec.Source, opts, fldPath.Child("source"), nil)
	}
	var allErrs field.ErrorList
	srcsPath := fldPath.Child("sources")
	if !SourceIsEmpty(&spec.Source) {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("source"), "spec.source and spec.sources are exclusive: move spec.source into spec.sources, or remove spec.sources"))
	}
	if n := len(spec.Sources); n > MaxSources {
		return append(allErrs, field.TooMany(srcsPath, n, MaxSources))
	}
	refs := map[string]bool{}
	rendered := false
	for i, src := range spec.Sources {
		if src.Ref == "" {
			continue
		}
		p := srcsPath.Index(i).Child("ref")
		for _, msg := range validation.IsDNS1123Label(src.Ref) {
			allErrs = append(allErrs, field.Invalid(p, src.Ref, msg))
		}
		if refs[src.Ref] {
			allErrs = append(allErrs, field.Duplicate(p, src.Ref))
		}
		refs[src.Ref] = true
	}
	for i := range spec.Sources {
		allErrs = append(allErrs, validateSource(&spec.Sources[i], opts, srcsPath.Index(i), refs)...)
		rendered = rendered || !gitops.ValuesOnly(&spec.Sources[i])
	}
	if !rendered {
		allErrs = append(allErrs, field.Required(srcsPath, "a source with a path or a chart to render: a source with a ref and neither only lends its files to value files"))
	}
	return allErrs
}

// SourceIsEmpty says whether spec.source is left unset; its revision may hold the default.
func SourceIsEmpty(src *gitops.ApplicationSource) bool {
	rest := *src
	if rest.Revision == "HEAD" {
		rest.Revision = ""
	}
	return apiequality.Semantic.DeepEqual(rest, gitops.ApplicationSource{})
}

// validateSource checks one source at fldPath. refs are the refs declared by spec.sources,
// which $<ref>/ value files may read; nil for spec.source, where there are none.
func validateSource(src *gitops.ApplicationSource, opts Options, fldPath *field.Path, refs map[string]bool) field.ErrorList {
	var allErrs field.ErrorList
	if src.Ref != "" && refs == nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("ref"), "names a source of spec.sources; spec.source needs no name"))
	}
	if src.Chart != "" {
		allErrs = append(allErrs, validateChartSource(src, fldPath)...)
	} else {
		allErrs = append(allErrs, ValidateRepoURL(src.RepoURL, opts, fldPath.Child("repoURL"))...)
		allErrs = append(allErrs, ValidateRevision(src.Revision, fldPath.Child("revision"))...)
		allErrs = append(allErrs, ValidatePath(src.Path, fldPath.Child("path"))...)
	}
	if ref := src.CredentialsRef; ref != nil {
		if ref.Name == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("credentialsRef", "name"), "the name of a Secret in the Application's namespace"))
		} else {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(ref.Name, false) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("credentialsRef", "name"), ref.Name, msg))
			}
		}
	}
	if src.Directory != nil {
		dirPath := fldPath.Child("directory")
		allErrs = append(allErrs, validateGlob(src.Directory.Include, dirPath.Child("include"))...)
		allErrs = append(allErrs, validateGlob(src.Directory.Exclude, dirPath.Child("exclude"))...)
	}
	if k := src.Kustomize; k != nil {
		kPath := fldPath.Child("kustomize")
		for i, img := range k.Images {
			if strings.TrimSpace(img) == "" || strings.ContainsAny(img, " \t\n") {
				allErrs = append(allErrs, field.Invalid(kPath.Child("images").Index(i), img, "must be NAME=NEWNAME:TAG, NAME:TAG or NAME@DIGEST, without spaces"))
			}
		}
		for i, p := range k.Patches {
			if strings.TrimSpace(p.Patch) == "" {
				allErrs = append(allErrs, field.Required(kPath.Child("patches").Index(i).Child("patch"), "the text of a strategic-merge or JSON 6902 patch"))
			}
		}
		for i, c := range k.Components {
			allErrs = append(allErrs, ValidatePath(c, kPath.Child("components").Index(i))...)
			if c == "" {
				allErrs = append(allErrs, field.Required(kPath.Child("components").Index(i), "a path relative to spec.source.path"))
			}
		}
	}
	if h := src.Helm; h != nil {
		allErrs = append(allErrs, validateHelm(h, fldPath.Child("helm"), refs)...)
	}
	return allErrs
}

// MaxChartNameLength bounds spec.source.chart.
const MaxChartNameLength = 250

var chartName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// validateChartSource checks a source that names a chart in a Helm repository or an OCI
// registry: the chart's name, the repository's URL, a version or semver range, and none of the
// fields that only apply to a path of a Git repository.
func validateChartSource(src *gitops.ApplicationSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(src.Chart) > MaxChartNameLength {
		allErrs = append(allErrs, field.TooLong(fldPath.Child("chart"), "", MaxChartNameLength))
	} else if !chartName.MatchString(src.Chart) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("chart"), src.Chart, "must be a chart's name, such as podinfo: letters, digits, '.', '_' and '-'"))
	}
	allErrs = append(allErrs, ValidateChartRepoURL(src.RepoURL, fldPath.Child("repoURL"))...)
	if rev := src.Revision; rev != "" && rev != "HEAD" {
		if len(rev) > MaxRevisionLength {
			allErrs = append(allErrs, field.TooLong(fldPath.Child("revision"), "", MaxRevisionLength))
		} else if _, err := semver.NewConstraint(rev); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("revision"), rev, "must be the chart's version, such as 1.2.3, or a semver range, such as ~1.2 or >=1.0 <2"))
		}
	}
	if src.Path != "" {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("path"), "a chart from a repository has no path: remove spec.source.path, or remove spec.source.chart to render the chart at a path of a Git repository"))
	}
	if src.Directory != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("directory"), "does not apply to a chart"))
	}
	if src.Kustomize != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("kustomize"), "does not apply to a chart"))
	}
	return allErrs
}

// ValidateChartRepoURL accepts a Helm repository (https or http) or an OCI registry path
// (oci://), without credentials in it.
func ValidateChartRepoURL(repoURL string, fldPath *field.Path) field.ErrorList {
	if repoURL == "" {
		return field.ErrorList{field.Required(fldPath, "the URL of a Helm repository, such as https://charts.example.com, or an OCI registry path, such as oci://registry.example.com/charts")}
	}
	if len(repoURL) > MaxRepoURLLength {
		return field.ErrorList{field.TooLong(fldPath, "", MaxRepoURLLength)}
	}
	if strings.ContainsAny(repoURL, " \t\r\n") {
		return field.ErrorList{field.Invalid(fldPath, repoURL, "must not contain whitespace")}
	}
	u, err := url.Parse(repoURL)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, repoURL, fmt.Sprintf("not a valid URL: %v", err))}
	}
	switch u.Scheme {
	case "https", "http", "oci":
	default:
		return field.ErrorList{field.NotSupported(fldPath, u.Scheme+"://", []string{"https://", "http://", "oci://"})}
	}
	if u.Host == "" {
		return field.ErrorList{field.Invalid(fldPath, repoURL, "must name a host")}
	}
	if u.User != nil {
		return field.ErrorList{field.Invalid(fldPath, "<redacted>", "must not embed a user, password or token; put credentials in a Secret and name it in spec.source.credentialsRef")}
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return field.ErrorList{field.Invalid(fldPath, repoURL, "must not have a query or a fragment")}
	}
	return nil
}

// MaxHelmParameters bounds spec.source.helm.parameters and valueFiles.
const MaxHelmParameters = 256

func validateHelm(h *gitops.HelmSource, fldPath *field.Path, refs map[string]bool) field.ErrorList {
	var allErrs field.ErrorList
	if n := h.ReleaseName; n != "" {
		for _, msg := range validation.IsDNS1123Subdomain(n) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("releaseName"), n, msg))
		}
		if len(n) > 53 {
			allErrs = append(allErrs, field.TooLong(fldPath.Child("releaseName"), n, 53))
		}
	}
	if ns := h.Namespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), ns, msg))
		}
	}
	if n := len(h.ValueFiles); n > MaxHelmParameters {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("valueFiles"), n, MaxHelmParameters))
	}
	for i, vf := range h.ValueFiles {
		p := fldPath.Child("valueFiles").Index(i)
		if vf == "" {
			allErrs = append(allErrs, field.Required(p, "a values file relative to spec.source.path"))
			continue
		}
		if ref, rest, ok := v1alpha1.RefValueFile(vf); ok {
			switch {
			case refs == nil:
				allErrs = append(allErrs, field.Invalid(p, vf, "a value file starting with $ reads another source of spec.sources, as $<ref>/<path>; spec.source has none"))
			case !refs[ref]:
				allErrs = append(allErrs, field.Invalid(p, vf, fmt.Sprintf("no source of spec.sources has ref %q", ref)))
			case rest == "":
				allErrs = append(allErrs, field.Invalid(p, vf, "must name a file of the source: $<ref>/<path>"))
			default:
				allErrs = append(allErrs, ValidatePath(rest, p)...)
			}
			continue
		}
		allErrs = append(allErrs, ValidatePath(vf, p)...)
	}
	if v := h.Values; v != nil && len(v.Raw) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(v.Raw, &obj); err != nil || obj == nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("values"), string(v.Raw), "must be an object of values, not a string"))
		}
	}
	if n := len(h.Parameters); n > MaxHelmParameters {
		allErrs = append(allErrs, field.TooMany(fldPath.Child("parameters"), n, MaxHelmParameters))
	}
	for i, p := range h.Parameters {
		if strings.TrimSpace(p.Name) == "" || strings.ContainsAny(p.Name, "=\n") {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("parameters").Index(i).Child("name"), p.Name, "must be a value's path such as image.tag, without = or a line break"))
		}
	}
	if kv := h.KubeVersion; kv != "" && !kubeVersion.MatchString(kv) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("kubeVersion"), kv, "must be a Kubernetes version such as v1.37.2 or 1.37"))
	}
	for i, av := range h.APIVersions {
		if av == "" || strings.ContainsAny(av, " \t\n") || strings.Count(av, "/") > 2 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("apiVersions").Index(i), av, "must be group/version or group/version/Kind"))
		}
	}
	return allErrs
}

var kubeVersion = regexp.MustCompile(`^v?\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.+-]+)?$`)

// ValidateRepoURL accepts https, http, ssh, git and scp-like URLs, and file URLs only when the
// server allows them.
func ValidateRepoURL(repoURL string, opts Options, fldPath *field.Path) field.ErrorList {
	if repoURL == "" {
		return field.ErrorList{field.Required(fldPath, "the URL of a Git repository, such as https://git.example.com/org/repo.git")}
	}
	if len(repoURL) > MaxRepoURLLength {
		return field.ErrorList{field.TooLong(fldPath, "", MaxRepoURLLength)}
	}
	if strings.ContainsAny(repoURL, " \t\r\n") {
		return field.ErrorList{field.Invalid(fldPath, repoURL, "must not contain whitespace")}
	}
	if !strings.Contains(repoURL, "://") {
		if scpLikeURL.MatchString(repoURL) {
			return nil
		}
		return field.ErrorList{field.Invalid(fldPath, repoURL, "must be an https://, http:// or ssh:// URL, or scp-like user@host:path")}
	}
	u, err := url.Parse(repoURL)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath, repoURL, fmt.Sprintf("not a valid URL: %v", err))}
	}
	switch u.Scheme {
	case "https", "http", "ssh", "git":
		if u.Host == "" {
			return field.ErrorList{field.Invalid(fldPath, repoURL, "must name a host")}
		}
		if _, hasPassword := u.User.Password(); hasPassword {
			return field.ErrorList{field.Invalid(fldPath, "<redacted>", "must not embed a password; put credentials in a Secret and name it in spec.source.credentialsRef")}
		}
		// Over HTTP the user part is where tokens go (https://TOKEN@host/...): refused like a
		// password. Over ssh it is the login name (ssh://git@host/...).
		if u.User != nil && (u.Scheme == "https" || u.Scheme == "http") {
			return field.ErrorList{field.Invalid(fldPath, "<redacted>", "must not embed a user or token; put credentials in a Secret and name it in spec.source.credentialsRef")}
		}
		return nil
	case "file":
		if !opts.AllowFileRepositories {
			return field.ErrorList{field.Forbidden(fldPath, "file:// repositories are disabled on this server (start ferry-apiserver with --allow-file-repositories to allow them)")}
		}
		if u.Path == "" || !path.IsAbs(u.Path) {
			return field.ErrorList{field.Invalid(fldPath, repoURL, "a file URL must hold an absolute path, such as file:///srv/git/repo.git")}
		}
		return nil
	default:
		return field.ErrorList{field.NotSupported(fldPath, u.Scheme+"://", []string{"https://", "http://", "ssh://", "git://", "user@host:path"})}
	}
}

// ValidateRevision accepts a branch or tag name (git check-ref-format rules) or a full commit SHA.
// Empty is allowed: it is defaulted to HEAD.
func ValidateRevision(rev string, fldPath *field.Path) field.ErrorList {
	if rev == "" || rev == "HEAD" || commitSHA.MatchString(rev) {
		return nil
	}
	if len(rev) > MaxRevisionLength {
		return field.ErrorList{field.TooLong(fldPath, "", MaxRevisionLength)}
	}
	if hexOnly.MatchString(rev) && len(rev) >= 7 && len(rev) != 40 {
		// Looks like an abbreviated or mistyped commit; refuse rather than guess it is a branch.
		return field.ErrorList{field.Invalid(fldPath, rev, "a commit must be given as its full 40-character lower-case SHA")}
	}
	if msg := refNameProblem(rev); msg != "" {
		return field.ErrorList{field.Invalid(fldPath, rev, "must be a branch, a tag or a full commit SHA: "+msg)}
	}
	return nil
}

// refNameProblem applies the rules of `git check-ref-format --allow-onelevel` and says what is
// wrong, or returns "".
func refNameProblem(ref string) string {
	switch {
	case strings.HasPrefix(ref, "-"):
		return "must not start with '-'"
	case strings.HasPrefix(ref, "/") || strings.HasSuffix(ref, "/"):
		return "must not start or end with '/'"
	case strings.HasSuffix(ref, "."):
		return "must not end with '.'"
	case strings.Contains(ref, ".."):
		return "must not contain '..'"
	case strings.Contains(ref, "//"):
		return "must not contain '//'"
	case strings.Contains(ref, "@{"):
		return "must not contain '@{'"
	case ref == "@":
		return "must not be '@'"
	}
	for _, r := range ref {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return fmt.Sprintf("must not contain %q", r)
		}
	}
	for _, part := range strings.Split(ref, "/") {
		if strings.HasPrefix(part, ".") {
			return "no component may start with '.'"
		}
		if strings.HasSuffix(part, ".lock") {
			return "no component may end with '.lock'"
		}
	}
	return ""
}

// ValidatePath accepts a relative slash-separated path inside the repository.
func ValidatePath(p string, fldPath *field.Path) field.ErrorList {
	if p == "" {
		return nil
	}
	if len(p) > MaxPathLength {
		return field.ErrorList{field.TooLong(fldPath, "", MaxPathLength)}
	}
	if strings.HasPrefix(p, "/") {
		return field.ErrorList{field.Invalid(fldPath, p, "must be relative to the repository root, without a leading '/'")}
	}
	if strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return field.ErrorList{field.Invalid(fldPath, p, "must use '/' as separator and contain no NUL or backslash")}
	}
	for _, elem := range strings.Split(p, "/") {
		if elem == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..': the path must stay inside the repository")}
		}
	}
	return nil
}

func validateGlob(pattern string, fldPath *field.Path) field.ErrorList {
	if pattern == "" {
		return nil
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return field.ErrorList{field.Invalid(fldPath, pattern, fmt.Sprintf("not a valid glob: %v", err))}
	}
	return nil
}

func validateSyncPolicy(sp *gitops.SyncPolicy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if sp.Interval != nil {
		if d := sp.Interval.Duration; d < MinInterval || d > MaxInterval {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("interval"), d.String(), fmt.Sprintf("must be between %s and %s", MinInterval, MaxInterval)))
		}
	}
	if sp.WaveTimeout != nil {
		if d := sp.WaveTimeout.Duration; d < MinWaveTimeout || d > MaxWaveTimeout {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("waveTimeout"), d.String(), fmt.Sprintf("must be between %s and %s", MinWaveTimeout, MaxWaveTimeout)))
		}
	}
	if r := sp.Retry; r != nil {
		rPath := fldPath.Child("retry")
		if r.Limit != nil && (*r.Limit < 0 || *r.Limit > MaxRetryLimit) {
			allErrs = append(allErrs, field.Invalid(rPath.Child("limit"), *r.Limit, fmt.Sprintf("must be between 0 and %d", MaxRetryLimit)))
		}
		if b := r.Backoff; b != nil {
			bPath := rPath.Child("backoff")
			if b.Duration != nil && b.Duration.Duration < MinBackoffDuration {
				allErrs = append(allErrs, field.Invalid(bPath.Child("duration"), b.Duration.Duration.String(), fmt.Sprintf("must be at least %s", MinBackoffDuration)))
			}
			if b.Factor != nil && (*b.Factor < 1 || *b.Factor > MaxBackoffFactor) {
				allErrs = append(allErrs, field.Invalid(bPath.Child("factor"), *b.Factor, fmt.Sprintf("must be between 1 and %d", MaxBackoffFactor)))
			}
			if b.MaxDuration != nil {
				if b.MaxDuration.Duration > MaxInterval {
					allErrs = append(allErrs, field.Invalid(bPath.Child("maxDuration"), b.MaxDuration.Duration.String(), fmt.Sprintf("must be at most %s", MaxInterval)))
				} else if b.Duration != nil && b.MaxDuration.Duration < b.Duration.Duration {
					allErrs = append(allErrs, field.Invalid(bPath.Child("maxDuration"), b.MaxDuration.Duration.String(), "must not be less than spec.syncPolicy.retry.backoff.duration"))
				}
			}
		}
	}
	return allErrs
}

func validateIgnoreDifferences(d *gitops.ResourceIgnoreDifferences, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if d.Group != "" {
		for _, msg := range validation.IsDNS1123Subdomain(d.Group) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("group"), d.Group, msg))
		}
	}
	if d.Kind == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("kind"), "the kind of the objects, such as Deployment"))
	} else if msgs := validation.IsCIdentifier(d.Kind); len(msgs) > 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("kind"), d.Kind, "must be a Kind, such as Deployment"))
	}
	if d.Name != "" {
		for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(d.Name, false) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), d.Name, msg))
		}
	}
	if d.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(d.Namespace) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("namespace"), d.Namespace, msg))
		}
	}
	if len(d.JSONPointers) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("jsonPointers"), "at least one RFC 6901 JSON pointer, such as /spec/replicas"))
	}
	for i, p := range d.JSONPointers {
		if msg := jsonPointerProblem(p); msg != "" {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("jsonPointers").Index(i), p, msg))
		}
	}
	return allErrs
}

// jsonPointerProblem checks RFC 6901 syntax: empty, or '/'-prefixed with '~' only in ~0 and ~1.
func jsonPointerProblem(p string) string {
	if p == "" {
		return "must not be empty: use / to point at a field, such as /spec/replicas"
	}
	if !strings.HasPrefix(p, "/") {
		return "must start with '/', such as /spec/replicas"
	}
	for i := 0; i < len(p); i++ {
		if p[i] == '~' && (i+1 >= len(p) || (p[i+1] != '0' && p[i+1] != '1')) {
			return "'~' must be escaped as ~0, and '/' inside a key as ~1"
		}
	}
	return ""
}

// ValidateApplicationStatus checks the fields of status a controller might get wrong.
func ValidateApplicationStatus(status *gitops.ApplicationStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if status.ObservedGeneration < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("observedGeneration"), status.ObservedGeneration, "must not be negative"))
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(status.Conditions, fldPath.Child("conditions"))...)
	if op := status.Operation; op != nil {
		allErrs = append(allErrs, validateOperationPhase(op.Phase, fldPath.Child("operation", "phase"))...)
		if op.ID == "" {
			allErrs = append(allErrs, field.Required(fldPath.Child("operation", "id"), ""))
		}
	}
	allErrs = append(allErrs, validateRefreshStatus(status.Refresh, fldPath.Child("refresh"))...)
	return allErrs
}

func validateOperationPhase(p gitops.OperationPhase, fldPath *field.Path) field.ErrorList {
	switch p {
	case gitops.OperationPending, gitops.OperationRunning, gitops.OperationSucceeded, gitops.OperationFailed:
		return nil
	}
	return field.ErrorList{field.NotSupported(fldPath, p, []gitops.OperationPhase{gitops.OperationPending, gitops.OperationRunning, gitops.OperationSucceeded, gitops.OperationFailed})}
}

// ValidateApplicationSync validates the body of a sync request to an Application of sources
// sources. That its name matches the URL is checked by the handler, which knows the URL.
func ValidateApplicationSync(sync *gitops.ApplicationSync, sources int) field.ErrorList {
	var allErrs field.ErrorList
	specPath := field.NewPath("spec")
	// An Application of several sources syncs to one revision per source, separated by spaces.
	revPath := specPath.Child("revision")
	if rev := sync.Spec.Revision; sources > 1 && rev != "" {
		parts := strings.Split(rev, " ")
		if len(parts) != sources {
			allErrs = append(allErrs, field.Invalid(revPath, rev, fmt.Sprintf("must name one revision for each of the %d sources of spec.sources, in order, separated by single spaces", sources)))
		}
		for _, part := range parts {
			if errs := ValidateRevision(part, revPath); len(errs) > 0 {
				allErrs = append(allErrs, errs...)
				break
			}
		}
	} else {
		allErrs = append(allErrs, ValidateRevision(rev, revPath)...)
	}
	for i, r := range sync.Spec.Resources {
		rPath := specPath.Child("resources").Index(i)
		if r.Kind == "" {
			allErrs = append(allErrs, field.Required(rPath.Child("kind"), ""))
		}
		if r.Name == "" {
			allErrs = append(allErrs, field.Required(rPath.Child("name"), ""))
		}
	}
	return allErrs
}
