package render

import (
	"fmt"
	"path"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/resid"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// krustyMu serialises the builds of InProcess. kustomize keeps process-wide state: a
// kustomization's `openapi` field replaces the schema every build in the process uses. Ferry's
// server builds in worker processes, one build at a time each, and needs no lock.
var krustyMu sync.Mutex

// overlayDir is where Ferry writes the kustomization carrying spec.source.kustomize: beside the
// repository tree, since kustomize refuses an overlay inside the directory it includes.
const overlayDir = "/.ferry-overrides"

// repoRoot is where the repository is staged in kustomize's in-memory filesystem, so that the
// overlay can sit outside it even when the rendered path is the repository root.
const repoRoot = "/repo"

// BuildKustomization runs kustomize over files staged in memory, with builtins only: no exec,
// no Helm, no plugin, loads confined to the root. Staged YAML whose aliases would expand past
// maxExpandedNodes is refused first, and the output is bounded by opts.MaxObjects and
// opts.MaxBytes. Callers other than RenderTree check the files with it first.
func BuildKustomization(files []source.File, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	opts = opts.WithDefaults()
	fs := filesys.MakeFsInMemory()
	for _, f := range files {
		if err := checkAliases(f.Path, f.Data, maxExpandedNodes); err != nil {
			return nil, err
		}
		if err := fs.WriteFile(path.Join(repoRoot, f.Path), f.Data); err != nil {
			return nil, &Error{File: f.Path, Reason: fmt.Sprintf("cannot stage for kustomize: %v", err)}
		}
	}
	root := path.Join(repoRoot, dir)
	if opts.Kustomize != nil && !emptyKustomizeOptions(opts.Kustomize) {
		var err error
		if root, err = writeOverlay(fs, root, opts.Kustomize); err != nil {
			return nil, err
		}
	}

	// A panic inside kustomize unwinds to the caller's boundary, which reports it as an
	// internal error of this Application and retries.
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions()) // builtins only, no exec, no Helm, root-only loads
	resMap, err := k.Run(fs, root)
	if err != nil {
		return nil, &Error{File: path.Join(dir, "kustomization.yaml"), Reason: fmt.Sprintf("kustomize build: %v", err)}
	}
	if n := resMap.Size(); n > opts.MaxObjects {
		return nil, &Error{File: dir, Reason: fmt.Sprintf("renders %d objects, over the limit of %d", n, opts.MaxObjects)}
	}
	var objs []*unstructured.Unstructured
	var size int64
	for _, res := range resMap.Resources() {
		data, err := res.MarshalJSON()
		if err != nil {
			return nil, &Error{File: dir, Reason: fmt.Sprintf("kustomize output: %v", err)}
		}
		if size += int64(len(data)); size > opts.MaxBytes {
			return nil, &Error{File: dir, Reason: fmt.Sprintf("renders more than %d MiB of objects, over the limit", opts.MaxBytes>>20)}
		}
		u, err := ObjectFromJSON(data)
		if err != nil {
			return nil, &Error{File: dir, Reason: fmt.Sprintf("kustomize output %s: %v", res.CurId(), err)}
		}
		if err := checkObject(u); err != nil {
			return nil, &Error{File: dir, Reason: err.Error()}
		}
		objs = append(objs, u)
	}
	return objs, nil
}

func emptyKustomizeOptions(k *KustomizeOptions) bool {
	return k.NamePrefix == "" && k.NameSuffix == "" && len(k.Images) == 0 && len(k.Patches) == 0 && len(k.Components) == 0
}

// writeOverlay writes a kustomization that includes the path and applies the overrides, and
// returns its directory.
func writeOverlay(fs filesys.FileSystem, root string, o *KustomizeOptions) (string, error) {
	dir := path.Join(overlayDir, root)
	// The relative way from the overlay back to the rendered path.
	back := strings.Repeat("../", strings.Count(strings.Trim(dir, "/"), "/")+1) + strings.TrimPrefix(root, "/")
	k := types.Kustomization{
		TypeMeta:   types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources:  []string{back},
		NamePrefix: o.NamePrefix,
		NameSuffix: o.NameSuffix,
	}
	for _, c := range o.Components {
		k.Components = append(k.Components, path.Join(back, c))
	}
	for i, img := range o.Images {
		parsed, err := parseImage(img)
		if err != nil {
			return "", &Error{File: "spec.source.kustomize.images", Reason: fmt.Sprintf("[%d] %v", i, err)}
		}
		k.Images = append(k.Images, parsed)
	}
	for _, p := range o.Patches {
		patch := types.Patch{Patch: p.Patch}
		if t := p.Target; t != nil {
			patch.Target = &types.Selector{
				ResId:              resid.ResId{Gvk: resid.Gvk{Group: t.Group, Version: t.Version, Kind: t.Kind}, Name: t.Name, Namespace: t.Namespace},
				LabelSelector:      t.LabelSelector,
				AnnotationSelector: t.AnnotationSelector,
			}
		}
		k.Patches = append(k.Patches, patch)
	}
	data, err := yaml.Marshal(k)
	if err != nil {
		return "", err
	}
	if err := fs.MkdirAll(dir); err != nil {
		return "", err
	}
	if err := fs.WriteFile(path.Join(dir, "kustomization.yaml"), data); err != nil {
		return "", err
	}
	return dir, nil
}

// parseImage reads the `kustomize edit set image` forms NAME=NEWNAME:TAG, NAME=NEWNAME@DIGEST,
// NAME:TAG and NAME@DIGEST.
func parseImage(s string) (types.Image, error) {
	img := types.Image{}
	name, rest, hasNew := strings.Cut(s, "=")
	if !hasNew {
		rest = s
	}
	ref := rest
	if d := strings.Index(ref, "@"); d >= 0 {
		img.Digest = ref[d+1:]
		ref = ref[:d]
	} else if c := strings.LastIndex(ref, ":"); c >= 0 && !strings.Contains(ref[c:], "/") {
		img.NewTag = ref[c+1:]
		ref = ref[:c]
	}
	if hasNew {
		img.Name = name
		img.NewName = ref
	} else {
		img.Name = ref
	}
	if img.Name == "" {
		return img, fmt.Errorf("image %q names no image", s)
	}
	return img, nil
}
