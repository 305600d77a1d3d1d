// Package render turns the files of a repository path into Kubernetes objects: a kustomization
// built with krusty on an in-memory copy of the repository (so nothing outside it can be read,
// and no plugin or exec function can run), or a plain directory of YAML and JSON manifests.
package render

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// DirectoryOptions select the files of a plain directory.
type DirectoryOptions struct {
	Recurse bool
	Include string
	Exclude string
}

// Patch is a kustomize patch and the objects it targets.
type Patch struct {
	Patch  string
	Target *Selector
}

// Selector selects objects for a patch.
type Selector struct {
	Group, Version, Kind, Name, Namespace, LabelSelector, AnnotationSelector string
}

// KustomizeOptions are overrides applied on top of the kustomization at the path.
type KustomizeOptions struct {
	NamePrefix string
	NameSuffix string
	Images     []string
	Patches    []Patch
	Components []string
}

// Options say how to render one path.
type Options struct {
	Directory *DirectoryOptions
	Kustomize *KustomizeOptions
	// Helm, when set, renders the path as a Helm chart; so does a Chart.yaml there, with
	// ChartDefaults (the release's name and namespace).
	Helm          *HelmOptions
	ChartDefaults *HelmOptions `json:"-"`
	// AllowRemoteBases lets kustomizations refer to remote repositories and URLs. Off by
	// default: a remote base is code fetched from wherever its author chose.
	AllowRemoteBases bool
	// Remote reads the remote bases AllowRemoteBases lets through; nil refuses them.
	Remote RemoteReader `json:"-"`
	// Dependencies returns the files of the dependencies a chart at dir declares and does not
	// vendor in charts/ (downloaded from their repositories), under dir/charts/; nil renders a
	// chart with what it vendors only.
	Dependencies func(dir string, files []source.File) ([]source.File, error) `json:"-"`
	// MaxObjects caps the rendered objects. Default 10,000.
	MaxObjects int
	// MaxBytes caps the rendered objects' size as JSON. Default 64 MiB.
	MaxBytes int64
	// Builder runs kustomize over the staged files; nil runs it in this process. Ferry's server
	// runs it in supervised child processes (package worker), where a render that exhausts
	// memory or time is stopped without taking the API down.
	Builder Builder `json:"-"`
}

// Builder builds the kustomization or the Helm chart (Options.Helm) at dir of files already
// staged and checked by RenderTree.
type Builder interface {
	Build(files []source.File, dir string, opts Options) ([]*unstructured.Unstructured, error)
}

// InProcess builds kustomizations in the calling process.
var InProcess Builder = inProcess{}

type inProcess struct{}

func (inProcess) Build(files []source.File, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	if opts.Helm != nil {
		return BuildChart(files, dir, opts)
	}
	krustyMu.Lock()
	defer krustyMu.Unlock()
	return BuildKustomization(files, dir, opts)
}

// Build renders what RenderTree staged: the chart at dir when opts.Helm is set, else the
// kustomization. Render workers call it.
func Build(files []source.File, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	if opts.Helm != nil {
		return BuildChart(files, dir, opts)
	}
	return BuildKustomization(files, dir, opts)
}

// WithDefaults fills in the limits left zero.
func (o Options) WithDefaults() Options {
	if o.MaxObjects == 0 {
		o.MaxObjects = 10000
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Builder == nil {
		o.Builder = InProcess
	}
	return o
}

// Error is a rendering failure tied to a file of the repository.
type Error struct {
	File   string
	Reason string
}

func (e *Error) Error() string {
	if e.File == "" {
		return e.Reason
	}
	return e.File + ": " + e.Reason
}

var kustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func renderDirectory(files []source.File, dir string, opts *DirectoryOptions) ([]*unstructured.Unstructured, error) {
	if opts == nil {
		opts = &DirectoryOptions{}
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	var selected []source.File
	for _, f := range files {
		if !strings.HasPrefix(f.Path, prefix) {
			continue
		}
		rel := strings.TrimPrefix(f.Path, prefix)
		if !opts.Recurse && strings.Contains(rel, "/") {
			continue
		}
		base := path.Base(rel)
		if opts.Include != "" {
			if ok, _ := path.Match(opts.Include, base); !ok {
				continue
			}
		} else if ext := path.Ext(base); ext != ".yaml" && ext != ".yml" && ext != ".json" {
			continue
		}
		if opts.Exclude != "" {
			if ok, _ := path.Match(opts.Exclude, base); ok {
				continue
			}
		}
		selected = append(selected, f)
	}
	sort.Slice(selected, func(i, j int) bool { return selected[i].Path < selected[j].Path })

	var objs []*unstructured.Unstructured
	for _, f := range selected {
		fileObjs, err := decodeManifests(f.Path, f.Data)
		if err != nil {
			return nil, err
		}
		objs = append(objs, fileObjs...)
	}
	return objs, nil
}

// decodeManifests reads every document of a YAML or JSON file; lists are expanded.
func decodeManifests(name string, data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		// Each document as JSON first, so that ObjectFromJSON alone decides the value types.
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, &Error{File: name, Reason: fmt.Sprintf("document %d is not valid YAML or JSON: %v", doc, err)}
		}
		if trimmed := bytes.TrimSpace(raw); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
			continue // an empty or comment-only document
		}
		u, err := ObjectFromJSON(raw)
		if err != nil {
			return nil, &Error{File: name, Reason: fmt.Sprintf("document %d is not an object: %v", doc, err)}
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, &Error{File: name, Reason: fmt.Sprintf("document %d: %v", doc, err)}
			}
			for i := range list.Items {
				item := list.Items[i]
				if err := checkObject(&item); err != nil {
					return nil, &Error{File: name, Reason: fmt.Sprintf("document %d, item %d: %v", doc, i, err)}
				}
				objs = append(objs, &item)
			}
			continue
		}
		if err := checkObject(u); err != nil {
			return nil, &Error{File: name, Reason: fmt.Sprintf("document %d: %v", doc, err)}
		}
		objs = append(objs, u)
	}
}

// checkObject insists on what Ferry needs to apply and track an object.
func checkObject(u *unstructured.Unstructured) error {
	var missing []string
	if u.GetAPIVersion() == "" {
		missing = append(missing, "apiVersion")
	}
	if u.GetKind() == "" {
		missing = append(missing, "kind")
	}
	if u.GetName() == "" && (u.GetGenerateName() == "" || !hooks.IsHook(u)) {
		// A hook may use generateName: it is created anew at each run, as Argo CD's users
		// write them; any other object must be named to be tracked.
		if u.GetGenerateName() != "" {
			return fmt.Errorf("%s uses metadata.generateName, which cannot be tracked across syncs: set metadata.name", describe(u))
		}
		missing = append(missing, "metadata.name")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no %s", describe(u), strings.Join(missing, ", "))
	}
	return nil
}

func describe(u *unstructured.Unstructured) string {
	if u.GetKind() == "" && u.GetName() == "" {
		return "the object"
	}
	return fmt.Sprintf("%s %q", u.GetKind(), u.GetName())
}
