package render

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
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
	if opts.Helm != nil || isChart(files, dir) {
		if opts.Helm == nil {
			opts.Helm = opts.ChartDefaults
		}
		if opts.Helm == nil {
			opts.Helm = &HelmOptions{ReleaseName: "release", Namespace: "default"}
		}
		if files, err = withValueFiles(read, files, dir, opts.Helm.ValueFiles); err != nil {
			return nil, err
		}
		if opts.Dependencies != nil {
			deps, err := opts.Dependencies(dir, files)
			if err != nil {
				return nil, err
			}
			files = append(files, deps...)
		}
		objs, err = opts.Builder.Build(files, dir, opts)
	} else if file, _ := kustomizationIn(files, dir); file != "" {
		var components []string
		if opts.Kustomize != nil {
			components = opts.Kustomize.Components
		}
		if files, err = reachedFiles(read, files, dir, components, opts); err != nil {
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
	return RenderTree(FilesReader(files), dir, opts)
}

// FilesReader reads subtrees of a list of files (paths from the repository root).
func FilesReader(files []source.File) TreeReader {
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
//
// An allowed remote base is read through opts.Remote and mounted under remoteMount, and the
// reference is rewritten to point there: kustomize then finds it among the staged files and
// never fetches anything itself (a render worker could not run git, and should not reach the
// network). A remote repository's kustomizations are followed like the Application's own, each
// confined to its repository.
func reachedFiles(read TreeReader, files []source.File, root string, overlayComponents []string, opts Options) ([]source.File, error) {
	for _, f := range files {
		if within(f.Path, remoteMount) {
			return nil, &Error{File: f.Path, Reason: fmt.Sprintf("the repository has a %s directory, which Ferry keeps for remote bases: rename it", remoteMount)}
		}
	}
	w := &treeWalk{read: read, files: files, opts: opts, readDirs: []string{root}, have: map[string]bool{},
		mounts: map[string]TreeReader{}, rewrites: map[string][][2]string{}}
	for _, f := range files {
		w.have[f.Path] = true
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
		var extra []string
		if dir == root {
			extra = overlayComponents
		}
		next, err := w.visit(dir, extra)
		if err != nil {
			return nil, err
		}
		queue = append(queue, next...)
	}
	return rewriteRemoteRefs(w.files, w.rewrites), nil
}

// treeWalk follows kustomizations from the Application's path through what they reference,
// reading each directory once, from the Application's repository or a mounted remote base.
type treeWalk struct {
	read  TreeReader
	opts  Options
	files []source.File // every file read so far
	have  map[string]bool
	// readDirs are the directories read whole: a path within one is a file or directory of files.
	readDirs []string
	// mounts are the remote bases' repositories, by where they are mounted.
	mounts map[string]TreeReader
	// rewrites holds, per kustomization file, each remote reference and the mounted path that
	// replaces it.
	rewrites map[string][][2]string
}

// readAny reads a directory of the Application's repository or of a mounted remote one.
func (w *treeWalk) readAny(dir string) ([]source.File, error) {
	if m, sub, ok := mountOf(dir); ok {
		got, err := w.mounts[m](sub)
		if err != nil {
			return nil, err
		}
		out := make([]source.File, len(got))
		for i, f := range got {
			out[i] = source.File{Path: path.Join(m, f.Path), Data: f.Data}
		}
		return out, nil
	}
	got, err := w.read(dir)
	for _, f := range got {
		if within(f.Path, remoteMount) {
			return nil, fmt.Errorf("the repository has a %s directory, which Ferry keeps for remote bases: rename it", remoteMount)
		}
	}
	return got, err
}

func (w *treeWalk) covered(p string) bool {
	for _, d := range w.readDirs {
		if within(p, d) {
			return true
		}
	}
	return false
}

func (w *treeWalk) isDir(p string) bool {
	for _, f := range w.files {
		if strings.HasPrefix(f.Path, p+"/") || p == "" {
			return true
		}
	}
	return false
}

// visit reads the kustomization of dir (with extra components for the Application's own path)
// and follows its references; it returns the directories to visit next.
func (w *treeWalk) visit(dir string, extra []string) ([]string, error) {
	file, data := kustomizationIn(w.files, dir)
	if file == "" {
		return nil, nil // a directory without a kustomization: kustomize says so when it loads it
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
	refs = append(refs, extra...)
	var next []string
	for _, ref := range refs {
		target, err := w.target(file, dir, ref)
		if err != nil {
			return nil, err
		}
		more, err := w.follow(file, dir, ref, target)
		if err != nil {
			return nil, err
		}
		next = append(next, more...)
	}
	return next, nil
}

// target is where ref, written in the kustomization file of dir, points: a path of the
// repository it belongs to, or of a remote base's mount (fetched here, when allowed).
func (w *treeWalk) target(file, dir, ref string) (string, error) {
	// The repository this kustomization belongs to: "" for the Application's, or a mount.
	home, _, _ := mountOf(dir)
	var target string
	switch {
	case looksRemote(ref) && !w.opts.AllowRemoteBases:
		return "", &Error{File: file, Reason: fmt.Sprintf("remote base %q refused: remote bases are disabled on this server (ferry-apiserver --allow-remote-bases)", ref)}
	case looksRemote(ref) && isRemoteFile(ref):
		// kustomize would download it itself, from inside the render, which has no network:
		// Ferry fetches Git repositories, not single files.
		return "", &Error{File: file, Reason: fmt.Sprintf("remote file %q refused: a render makes no network request; copy the file into the repository, or name a directory of a Git repository (a remote base)", ref)}
	case looksRemote(ref):
		if w.opts.Remote == nil {
			return "", &Error{File: file, Reason: fmt.Sprintf("remote base %q: remote bases cannot be fetched here", ref)}
		}
		b, err := parseRemoteBase(ref)
		if err != nil {
			return "", &Error{File: file, Reason: fmt.Sprintf("remote base %q: %v", ref, err)}
		}
		m := mountPoint(b)
		if w.mounts[m] == nil {
			reader, err := w.opts.Remote(b.RepoURL, b.Revision)
			if err != nil {
				return "", &Error{File: file, Reason: fmt.Sprintf("remote base %q: %v", ref, err)}
			}
			w.mounts[m] = reader
		}
		target = path.Join(m, b.Dir)
		w.rewrites[file] = append(w.rewrites[file], [2]string{ref, relativePath(dir, target)})
	default:
		target = path.Join(dir, ref)
		if target == ".." || strings.HasPrefix(target, "../") || path.IsAbs(ref) || (home == "" && within(target, remoteMount)) {
			return "", &Error{File: file, Reason: fmt.Sprintf("%q points outside the repository: refused", ref)}
		}
		if home != "" && !within(target, home) {
			return "", &Error{File: file, Reason: fmt.Sprintf("%q points outside its remote repository: refused", ref)}
		}
	}
	if target == "." {
		target = ""
	}
	return target, nil
}

// follow makes sure target (ref of the kustomization file of dir) has been read, and returns it
// when it is a directory whose kustomization must be visited.
func (w *treeWalk) follow(file, dir, ref, target string) ([]string, error) {
	switch {
	case w.covered(target) && w.have[target]:
		return nil, nil // a file of a directory already read
	case w.covered(target) && w.isDir(target):
		return []string{target}, nil
	case w.covered(target):
		return nil, &Error{File: file, Reason: fmt.Sprintf("%q does not exist in the repository", ref)}
	}
	more, err := w.readAny(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &Error{File: file, Reason: fmt.Sprintf("%q does not exist in the repository, or is a file outside %s (kustomize loads files only from a kustomization's own directory)", ref, orRoot(dir))}
	}
	if err != nil {
		return nil, &Error{File: file, Reason: fmt.Sprintf("reading %q: %v", ref, err)}
	}
	for _, f := range more {
		if !w.have[f.Path] {
			w.have[f.Path] = true
			w.files = append(w.files, f)
		}
	}
	w.readDirs = append(w.readDirs, target)
	return []string{target}, nil
}

// mountOf splits a path under remoteMount into its mount point and the path inside it.
func mountOf(p string) (mount, sub string, ok bool) {
	if !within(p, remoteMount) || p == remoteMount {
		return "", "", false
	}
	parts := strings.SplitN(p, "/", 3)
	mount = parts[0] + "/" + parts[1]
	if len(parts) == 3 {
		sub = parts[2]
	}
	return mount, sub, true
}

// relativePath is the way from directory from to target, both from the same root.
func relativePath(from, target string) string {
	if from == "" {
		return target
	}
	return strings.Repeat("../", strings.Count(from, "/")+1) + target
}

// rewriteRemoteRefs replaces, in each kustomization, the remote references with the paths of
// their mounts. Files are copied, never changed in place (they may be the cache's).
func rewriteRemoteRefs(files []source.File, rewrites map[string][][2]string) []source.File {
	if len(rewrites) == 0 {
		return files
	}
	out := make([]source.File, len(files))
	copy(out, files)
	for i, f := range out {
		pairs, ok := rewrites[f.Path]
		if !ok {
			continue
		}
		// Longest first: a reference may begin with another (github.com/org/repo and
		// github.com/org/repo/sub).
		sort.Slice(pairs, func(i, j int) bool { return len(pairs[i][0]) > len(pairs[j][0]) })
		data := string(f.Data)
		for _, p := range pairs {
			data = strings.ReplaceAll(data, p[0], p[1])
		}
		out[i] = source.File{Path: f.Path, Data: []byte(data)}
	}
	return out
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

// withValueFiles adds to a chart's files the value files it names outside its directory.
func withValueFiles(read TreeReader, files []source.File, dir string, valueFiles []string) ([]source.File, error) {
	have := map[string]bool{}
	for _, f := range files {
		have[f.Path] = true
	}
	for _, vf := range valueFiles {
		if isRefValueFile(vf) {
			continue // another source's, given apart from the chart's files
		}
		p, err := valueFilePath(dir, vf)
		if err != nil {
			return nil, err
		}
		if have[p] {
			continue
		}
		parent := path.Dir(p)
		if parent == "." {
			parent = ""
		}
		under, err := read(parent)
		if err != nil {
			return nil, &Error{File: p, Reason: fmt.Sprintf("value file not found: %v", err)}
		}
		for _, f := range under {
			if f.Path == p {
				files = append(files, f)
				have[p] = true
			}
		}
		if !have[p] {
			return nil, &Error{File: p, Reason: "value file not found"}
		}
	}
	return files, nil
}
