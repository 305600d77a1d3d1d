package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// TreeReader returns the regular files under dir of one commit ("" for the whole repository),
// with paths from the repository root, and an error wrapping fs.ErrNotExist when dir is not a
// directory of the commit.
type TreeReader func(dir string) ([]source.File, error)

// RenderTree renders dir of a repository, reading only what the render needs: the directory
// itself and, for a kustomization, the directories of the bases and components it reaches, one
// kustomization at a time. A monorepo costs what the Application uses, and a kustomization
// elsewhere in it (broken, old-style, remote) is never read.
func RenderTree(read TreeReader, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	opts = opts.WithDefaults()
	dir = cleanDir(dir)
	files, err := read(dir)
	if err != nil {
		return nil, &Error{File: dir, Reason: fmt.Sprintf("cannot read the path: %v", err)}
	}
	var objs []*unstructured.Unstructured
	if file, _ := kustomizationIn(files, dir); file != "" {
		var components []string
		if opts.Kustomize != nil {
			components = opts.Kustomize.Components
		}
		if files, err = reachedFiles(read, files, dir, components, opts.AllowRemoteBases); err != nil {
			return nil, err
		}
		objs, err = opts.Builder.Build(files, dir, opts)
	} else {
		objs, err = renderDirectory(files, dir, opts.Directory)
	}
	if err != nil {
		return nil, err
	}
	if len(objs) > opts.MaxObjects {
		return nil, &Error{File: dir, Reason: fmt.Sprintf("renders %d objects, over the limit of %d", len(objs), opts.MaxObjects)}
	}
	return objs, nil
}

// Render renders dir of the repository whose files are given (paths from the repository root).
func Render(files []source.File, dir string, opts Options) ([]*unstructured.Unstructured, error) {
	return RenderTree(filesReader(files), dir, opts)
}

// filesReader reads subtrees of a list of files.
func filesReader(files []source.File) TreeReader {
	return func(dir string) ([]source.File, error) {
		var under []source.File
		for _, f := range files {
			if within(f.Path, dir) {
				under = append(under, f)
			}
		}
		if len(under) == 0 && dir != "" {
			return nil, fmt.Errorf("%q: %w", dir, fs.ErrNotExist)
		}
		return under, nil
	}
}

func cleanDir(dir string) string {
	dir = strings.Trim(path.Clean("/"+dir), "/")
	if dir == "." {
		return ""
	}
	return dir
}

// within reports whether p is dir or lies below it ("" is the whole repository).
func within(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

// reachedFiles follows the kustomization at root through the resources, bases, components and
// CRDs it lists, and the kustomizations of the directories those name, reading each directory
// once. Each reference is checked as it is reached: no remote base (unless allowed), nothing
// outside the repository, nothing missing. It returns every file kustomize may load.
func reachedFiles(read TreeReader, files []source.File, root string, overlayComponents []string, allowRemote bool) ([]source.File, error) {
	readDirs := []string{root}
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	covered := func(p string) bool {
		for _, d := range readDirs {
			if within(p, d) {
				return true
			}
		}
		return false
	}
	isDir := func(p string) bool {
		for _, f := range files {
			if strings.HasPrefix(f.Path, p+"/") || p == "" {
				return true
			}
		}
		return false
	}
	visited := map[string]bool{}
	queue := []string{root}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		if visited[dir] {
			continue
		}
		visited[dir] = true
		file, data := kustomizationIn(files, dir)
		if file == "" {
			continue // a directory without a kustomization: kustomize says so when it loads it
		}
		var k types.Kustomization
		if err := yaml.Unmarshal(data, &k); err != nil {
			return nil, &Error{File: file, Reason: fmt.Sprintf("not a valid kustomization: %v", err)}
		}
		for _, fv := range loadedFields(&k) {
			if namesURL(fv.value) {
				return nil, &Error{File: file, Reason: fmt.Sprintf("%s: %q names a URL: a render never makes a network request (only remote bases in resources, and only with ferry-apiserver --allow-remote-bases)", fv.field, fv.value)}
			}
		}
		// bases is deprecated in favour of resources, but old kustomizations still use it.
		refs := append(append(append(append([]string{}, k.Resources...), k.Bases...), k.Components...), k.Crds...) //nolint:staticcheck
		if dir == root {
			refs = append(refs, overlayComponents...)
		}
		for _, ref := range refs {
			if looksRemote(ref) {
				if allowRemote {
					continue
				}
				return nil, &Error{File: file, Reason: fmt.Sprintf("remote base %q refused: remote bases are disabled on this server (ferry-apiserver --allow-remote-bases)", ref)}
			}
			target := path.Join(dir, ref)
			if target == ".." || strings.HasPrefix(target, "../") || path.IsAbs(ref) {
				return nil, &Error{File: file, Reason: fmt.Sprintf("%q points outside the repository: refused", ref)}
			}
			if target == "." {
				target = ""
			}
			switch {
			case covered(target) && have[target]:
				// A file of a directory already read.
			case covered(target) && isDir(target):
				queue = append(queue, target)
			case covered(target):
				return nil, &Error{File: file, Reason: fmt.Sprintf("%q does not exist in the repository", ref)}
			default:
				more, err := read(target)
				if errors.Is(err, fs.ErrNotExist) {
					return nil, &Error{File: file, Reason: fmt.Sprintf("%q does not exist in the repository, or is a file outside %s (kustomize loads files only from a kustomization's own directory)", ref, orRoot(dir))}
				}
				if err != nil {
					return nil, &Error{File: file, Reason: fmt.Sprintf("reading %q: %v", ref, err)}
				}
				for _, f := range more {
					if !have[f.Path] {
						have[f.Path] = true
						files = append(files, f)
					}
				}
				readDirs = append(readDirs, target)
				queue = append(queue, target)
			}
		}
	}
	return files, nil
}

func orRoot(dir string) string {
	if dir == "" {
		return "the repository root"
	}
	return dir
}

// kustomizationIn returns the kustomization file of dir and its content, or "".
func kustomizationIn(files []source.File, dir string) (string, []byte) {
	for _, k := range kustomizationFiles {
		want := path.Join(dir, k)
		for _, f := range files {
			if f.Path == want {
				return f.Path, f.Data
			}
		}
	}
	return "", nil
}
