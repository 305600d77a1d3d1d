package render

import (
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
)

// fieldValue is one value of a kustomization field that kustomize may load as a file.
type fieldValue struct {
	field, value string
}

// loadedFields lists every value of k that kustomize loads as a file, and so would fetch over
// HTTP were it a URL: generator files and envs, patch paths, replacement paths, the OpenAPI
// schema, configurations, and the generator, transformer and validator configs. resources,
// bases, components and crds are checked separately: they may name remote bases, when allowed.
// Multi-line values are inline documents, not paths.
func loadedFields(k *types.Kustomization) []fieldValue {
	var out []fieldValue
	add := func(field, v string) {
		if v != "" && !strings.Contains(v, "\n") {
			out = append(out, fieldValue{field, v})
		}
	}
	kvSources := func(prefix string, kv types.KvPairSources) {
		for j, f := range kv.FileSources {
			add(fmt.Sprintf("%s.files[%d]", prefix, j), f)
		}
		for j, e := range kv.EnvSources {
			add(fmt.Sprintf("%s.envs[%d]", prefix, j), e)
		}
		add(prefix+".env", kv.EnvSource) //nolint:staticcheck // old kustomizations still use env
	}
	for i, g := range k.ConfigMapGenerator {
		kvSources(fmt.Sprintf("configMapGenerator[%d]", i), g.KvPairSources)
	}
	for i, g := range k.SecretGenerator {
		kvSources(fmt.Sprintf("secretGenerator[%d]", i), g.KvPairSources)
	}
	for i, p := range k.Patches {
		add(fmt.Sprintf("patches[%d].path", i), p.Path)
	}
	for i, p := range k.PatchesJson6902 { //nolint:staticcheck // old kustomizations still use it
		add(fmt.Sprintf("patchesJson6902[%d].path", i), p.Path)
	}
	for i, p := range k.PatchesStrategicMerge { //nolint:staticcheck // old kustomizations still use it
		add(fmt.Sprintf("patchesStrategicMerge[%d]", i), string(p))
	}
	for i, r := range k.Replacements {
		add(fmt.Sprintf("replacements[%d].path", i), r.Path)
	}
	for key, v := range k.OpenAPI {
		add("openapi."+key, v)
	}
	for _, list := range []struct {
		field  string
		values []string
	}{{"configurations", k.Configurations}, {"generators", k.Generators}, {"transformers", k.Transformers}, {"validators", k.Validators}} {
		for i, v := range list.values {
			add(fmt.Sprintf("%s[%d]", list.field, i), v)
		}
	}
	return out
}

// namesURL reports whether kustomize would take v for something to fetch: any scheme (url.Parse,
// which kustomize uses, lowercases it), or one of the remote-repository forms kustomize accepts,
// whatever the case of the host. A generator's "key=value" source counts by its value.
func namesURL(v string) bool {
	if key, value, ok := strings.Cut(v, "="); ok && !strings.ContainsAny(key, "/:") {
		v = value
	}
	return looksRemote(v)
}

// looksRemote reports whether kustomize would fetch ref rather than read it from the repository:
// a URL of any scheme, scp-like git@host:, the git:: and gh: forms, a host of the forges it knows
// in any case (GitHub.com/org/repo), a ?ref= query or a .git// path.
func looksRemote(ref string) bool {
	l := strings.ToLower(strings.TrimSpace(ref))
	if strings.Contains(l, "://") || strings.Contains(l, "?ref=") || strings.Contains(l, ".git//") {
		return true
	}
	for _, prefix := range []string{"git@", "git::", "gh:", "github.com/", "gitlab.com/", "bitbucket.org/"} {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
