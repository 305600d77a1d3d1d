package render

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

// HelmOptions say how to render the Helm chart at a path.
type HelmOptions struct {
	// ReleaseName and Namespace are .Release.Name and .Release.Namespace.
	ReleaseName string
	Namespace   string
	// ValueFiles are relative to the chart's directory, merged in order over values.yaml; those
	// starting with $ (another source's, $<ref>/<path>) are read from RefValues.
	ValueFiles []string
	// RefValues holds the value files of other sources that ValueFiles names, by that name. They
	// are not part of the chart's files.
	RefValues map[string][]byte `json:",omitempty"`
	// Values is a JSON object merged over the value files.
	Values []byte
	// Parameters are applied last, as --set (or --set-string).
	Parameters []HelmParameter
	SkipCRDs   bool
	// KubeVersion and APIVersions are the capabilities templates see; empty is Helm's default.
	KubeVersion string
	APIVersions []string
}

// HelmParameter is one --set.
type HelmParameter struct {
	Name        string
	Value       string
	ForceString bool
}

// chartFile is the file that makes a directory a Helm chart.
const chartFile = "Chart.yaml"

// isChart says whether dir of files holds a Helm chart.
func isChart(files []source.File, dir string) bool {
	want := path.Join(dir, chartFile)
	for _, f := range files {
		if f.Path == want {
			return true
		}
	}
	return false
}

// valueFilePath is where a value file of a chart at dir is in the repository, or an error when
// it would leave the repository.
func valueFilePath(dir, file string) (string, error) {
	p := path.Clean(path.Join(dir, file))
	if strings.HasPrefix(p, "../") || p == ".." || strings.HasPrefix(file, "/") {
		return "", &Error{File: file, Reason: "a value file must stay inside the repository"}
	}
	return p, nil
}

// valueFile returns where a value file of a chart at dir is, and what it holds: in the
// repository (byPath), or in another source ($<ref>/<path>, from h.RefValues).
func valueFile(h *HelmOptions, byPath map[string][]byte, dir, vf string) (string, []byte, error) {
	if isRefValueFile(vf) {
		data, ok := h.RefValues[vf]
		if !ok {
			return "", nil, &Error{File: vf, Reason: "value file of another source not found: $<ref>/ value files read the sources of spec.sources"}
		}
		return vf, data, nil
	}
	p, err := valueFilePath(dir, vf)
	if err != nil {
		return "", nil, err
	}
	data, ok := byPath[p]
	if !ok {
		return "", nil, &Error{File: p, Reason: "value file not found"}
	}
	return p, data, nil
}

// isRefValueFile says whether a value file is another source's ($<ref>/<path>).
func isRefValueFile(vf string) bool { return strings.HasPrefix(vf, "$") }

// BuildChart renders the chart at dir of files (the chart's files and its value files, paths
// from the repository root) exactly as `helm template` does: Helm's own install action, client
// only, with no cluster and no release stored. Nothing is fetched: dependencies must be in
// charts/. lookup finds nothing. Hooks come back as Ferry's: pre-install and pre-upgrade as
// PreSync, post-install and post-upgrade as PostSync, their weight as their sync wave, their
// delete policies as Ferry's; test hooks and the other events are left out.
func BuildChart(files []source.File, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	h := opts.Helm
	if h == nil {
		h = &HelmOptions{}
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	byPath := map[string][]byte{}
	var buffered []*archive.BufferedFile
	for _, f := range files {
		byPath[f.Path] = f.Data
		if rel, ok := strings.CutPrefix(f.Path, prefix); ok || dir == "" {
			if dir == "" {
				rel = f.Path
			}
			buffered = append(buffered, &archive.BufferedFile{Name: rel, Data: f.Data})
		}
	}
	chrt, err := loader.LoadFiles(buffered)
	if err != nil {
		return nil, &Error{File: path.Join(dir, chartFile), Reason: fmt.Sprintf("not a Helm chart Helm can load: %v", err)}
	}
	vals := map[string]any{}
	for _, vf := range h.ValueFiles {
		p, data, err := valueFile(h, byPath, dir, vf)
		if err != nil {
			return nil, err
		}
		if err := checkAliases(p, data, maxExpandedNodes); err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, &Error{File: p, Reason: fmt.Sprintf("not YAML values: %v", err)}
		}
		vals = MergeValues(vals, m)
	}
	if len(h.Values) > 0 {
		var m map[string]any
		if err := yaml.Unmarshal(h.Values, &m); err != nil {
			return nil, &Error{File: dir, Reason: fmt.Sprintf("spec.source.helm.values: %v", err)}
		}
		vals = MergeValues(vals, m)
	}
	for i, p := range h.Parameters {
		set := strvals.ParseInto
		if p.ForceString {
			set = strvals.ParseIntoString
		}
		if err := set(p.Name+"="+p.Value, vals); err != nil {
			return nil, &Error{File: dir, Reason: fmt.Sprintf("spec.source.helm.parameters[%d]: %v", i, err)}
		}
	}

	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = h.ReleaseName
	install.Namespace = h.Namespace
	install.Replace = true
	install.IncludeCRDs = !h.SkipCRDs
	install.SkipCRDs = h.SkipCRDs
	install.DisableHooks = false
	if h.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(h.KubeVersion)
		if err != nil {
			return nil, &Error{File: dir, Reason: fmt.Sprintf("spec.source.helm.kubeVersion: %v", err)}
		}
		install.KubeVersion = kv
	}
	install.APIVersions = h.APIVersions
	released, err := install.Run(chrt, vals)
	if err != nil {
		return nil, &Error{File: dir, Reason: fmt.Sprintf("helm template: %v", err)}
	}
	rel, ok := released.(*releasev1.Release)
	if !ok {
		return nil, &Error{File: dir, Reason: fmt.Sprintf("helm returned a %T", released)}
	}
	objs, err := decodeStream(dir, rel.Manifest)
	if err != nil {
		return nil, err
	}
	hookObjs, err := helmHooks(dir, rel.Hooks)
	if err != nil {
		return nil, err
	}
	return append(objs, hookObjs...), nil
}

// decodeStream decodes a stream of YAML documents into objects as plain manifests are decoded
// (integers stay integers), naming the chart's directory in errors.
func decodeStream(dir, stream string) ([]*unstructured.Unstructured, error) {
	return decodeManifests(path.Join(dir, "(helm template)"), []byte(stream))
}

// helmHooks turns the hooks Ferry runs into objects carrying Ferry's hook annotations.
func helmHooks(dir string, list []*releasev1.Hook) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, h := range list {
		var ferry hooks.Type
		for _, e := range h.Events {
			switch e {
			case releasev1.HookPreInstall, releasev1.HookPreUpgrade:
				ferry = hooks.PreSync
			case releasev1.HookPostInstall, releasev1.HookPostUpgrade:
				if ferry == "" {
					ferry = hooks.PostSync
				}
			}
		}
		if ferry == "" {
			continue // test, delete and rollback hooks: not part of a sync
		}
		objs, err := decodeStream(dir, h.Manifest)
		if err != nil {
			return nil, err
		}
		var policies []string
		for _, p := range h.DeletePolicies {
			switch p {
			case releasev1.HookBeforeHookCreation:
				policies = append(policies, string(hooks.BeforeHookCreation))
			case releasev1.HookSucceeded:
				policies = append(policies, string(hooks.HookSucceeded))
			case releasev1.HookFailed:
				policies = append(policies, string(hooks.HookFailed))
			}
		}
		sort.Strings(policies)
		for _, o := range objs {
			ann := o.GetAnnotations()
			if ann == nil {
				ann = map[string]string{}
			}
			ann[hooks.Annotation] = string(ferry)
			ann[syncwave.Annotation] = strconv.Itoa(h.Weight)
			if len(policies) > 0 {
				ann[hooks.DeletePolicyAnnotation] = strings.Join(policies, ",")
			}
			o.SetAnnotations(ann)
			out = append(out, o)
		}
	}
	return out, nil
}

// MergeValues is a copy of base with over merged in as Helm merges value files: maps deeply,
// anything else replaced.
func MergeValues(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		if vm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(bm, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
