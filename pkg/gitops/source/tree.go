package source

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Limits bound what reading a tree may load into memory.
type Limits struct {
	// MaxFiles is the most files one read may return. Default 10,000.
	MaxFiles int
	// MaxFileBytes is the largest single file. Default 4 MiB.
	MaxFileBytes int64
	// MaxTotalBytes is the most bytes one read may return. Default 64 MiB.
	MaxTotalBytes int64
}

// WithDefaults fills in the default of every limit left zero.
func (l Limits) WithDefaults() Limits {
	if l.MaxFiles == 0 {
		l.MaxFiles = 10000
	}
	if l.MaxFileBytes == 0 {
		l.MaxFileBytes = 4 << 20
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = 64 << 20
	}
	return l
}

// File is one regular file of a tree, with its slash-separated path from the repository root.
type File struct {
	Path string
	Data []byte
}

// ErrLimitExceeded is returned when a tree is larger than the Limits allow.
var ErrLimitExceeded = errors.New("limit exceeded")

// ReadFiles returns the regular files under dir (relative to the repository root; "" for all)
// of a cached commit, without any checkout. Symbolic links are followed only when their target
// stays inside the repository; one that points outside is an error naming the link.
func (c *Cache) ReadFiles(repoURL, sha, dir string, limits Limits) ([]File, error) {
	return c.readFiles(repoURL, sha, dir, limits)
}

// tree opens the root tree of a cached commit with the repository read-locked: a walk reads the
// object store, which a fetch into the same repository changes. unlock ends the read.
func (c *Cache) tree(repoURL, sha string) (root *object.Tree, entry *repoEntry, unlock func(), err error) {
	entry, err = c.entry(repoURL)
	if err != nil {
		return nil, nil, nil, err
	}
	entry.mu.RLock()
	commit, err := entry.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		entry.mu.RUnlock()
		return nil, nil, nil, fmt.Errorf("commit %s of %s is not in the cache: %w", sha, redactURL(repoURL), err)
	}
	if root, err = commit.Tree(); err != nil {
		entry.mu.RUnlock()
		return nil, nil, nil, fmt.Errorf("reading the tree of %s: %w", sha, err)
	}
	return root, entry, entry.mu.RUnlock, nil
}

// dirTree opens the tree of dir (not "") at commit sha, remembering which tree that is: the
// Applications of a monorepo each read their own directory of the same commit, and finding one
// from the root decodes every tree on the way — apps/ and its thousand entries, each time.
func (e *repoEntry) dirTree(root *object.Tree, sha, dir string) (*object.Tree, error) {
	key := sha + "\x00" + dir
	if h, ok := e.dirs.Get(key); ok {
		return e.repo.TreeObject(h.(plumbing.Hash))
	}
	t, err := root.Tree(dir)
	if err != nil {
		return nil, err
	}
	e.dirs.Add(key, t.Hash)
	return t, nil
}

func (c *Cache) readFiles(repoURL, sha, dir string, limits Limits) ([]File, error) {
	limits = limits.WithDefaults()
	root, cached, unlock, err := c.tree(repoURL, sha)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir = strings.Trim(path.Clean("/"+dir), "/")
	start := root
	if dir != "" {
		start, err = cached.dirTree(root, sha, dir)
		if err != nil {
			return nil, fmt.Errorf("path %q does not exist at commit %s (%v): %w", dir, sha, err, fs.ErrNotExist)
		}
	}

	var files []File
	var total int64
	walker := object.NewTreeWalker(start, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("walking %q at %s: %w", dir, sha, err)
		}
		full := name
		if dir != "" {
			full = dir + "/" + name
		}
		var data []byte
		switch entry.Mode {
		case filemode.Regular, filemode.Executable, filemode.Deprecated:
			// By the hash the walk found: looking the path up from the root would decode the
			// trees on the way again.
			data, err = readBlobObject(cached.repo, entry.Hash, full, limits.MaxFileBytes)
		case filemode.Symlink:
			data, err = readSymlink(root, full, limits.MaxFileBytes)
		default:
			// Directories are walked into; submodules are not followed.
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(files) >= limits.MaxFiles {
			return nil, fmt.Errorf("%q at %s has more than %d files: %w", dir, sha, limits.MaxFiles, ErrLimitExceeded)
		}
		total += int64(len(data))
		if total > limits.MaxTotalBytes {
			return nil, fmt.Errorf("%q at %s holds more than %d MiB: %w", dir, sha, limits.MaxTotalBytes>>20, ErrLimitExceeded)
		}
		files = append(files, File{Path: full, Data: data})
	}
	return files, nil
}

func readBlob(root *object.Tree, name string, maxBytes int64) ([]byte, error) {
	f, err := root.File(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return readBlobContent(&f.Blob, name, maxBytes)
}

// readBlobObject reads the blob hash of repo, which is the file name.
func readBlobObject(repo *git.Repository, hash plumbing.Hash, name string, maxBytes int64) ([]byte, error) {
	b, err := repo.BlobObject(hash)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return readBlobContent(b, name, maxBytes)
}

func readBlobContent(b *object.Blob, name string, maxBytes int64) ([]byte, error) {
	if b.Size > maxBytes {
		return nil, fmt.Errorf("file %s is %d bytes, over the limit of %d: %w", name, b.Size, maxBytes, ErrLimitExceeded)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxBytes+1))
}

// readSymlink returns the content of the file a link points at, refusing targets outside the
// repository and chains of links.
func readSymlink(root *object.Tree, name string, maxBytes int64) ([]byte, error) {
	target, err := readBlob(root, name, 4096)
	if err != nil {
		return nil, err
	}
	t := string(target)
	if path.IsAbs(t) {
		return nil, fmt.Errorf("symbolic link %s points outside the repository (%s): refused", name, t)
	}
	resolved := path.Join(path.Dir(name), t)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return nil, fmt.Errorf("symbolic link %s points outside the repository (%s): refused", name, t)
	}
	entry, err := root.FindEntry(resolved)
	if err != nil {
		return nil, fmt.Errorf("symbolic link %s points at %s, which does not exist", name, t)
	}
	if entry.Mode == filemode.Symlink {
		return nil, fmt.Errorf("symbolic link %s points at another link (%s): refused", name, t)
	}
	if entry.Mode == filemode.Dir {
		return nil, fmt.Errorf("symbolic link %s points at a directory (%s): not supported", name, t)
	}
	return readBlob(root, resolved, maxBytes)
}

// ListTree returns every directory and regular file (or symbolic link) of a cached commit,
// slash-separated from the repository root and sorted, without reading any file: at most
// maxEntries of them.
func (c *Cache) ListTree(repoURL, sha string, maxEntries int) (dirs, files []string, err error) {
	root, _, unlock, err := c.tree(repoURL, sha)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	walker := object.NewTreeWalker(root, true, nil)
	defer walker.Close()
	for n := 0; ; n++ {
		name, e, err := walker.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("walking %s: %w", sha, err)
		}
		if n >= maxEntries {
			return nil, nil, fmt.Errorf("the repository has more than %d entries at %s: %w", maxEntries, sha, ErrLimitExceeded)
		}
		switch e.Mode {
		case filemode.Dir:
			dirs = append(dirs, name)
		case filemode.Regular, filemode.Executable, filemode.Deprecated, filemode.Symlink:
			files = append(files, name)
		}
	}
	return dirs, files, nil
}

// ReadFile returns one file of a cached commit, at most maxBytes long; a symbolic link is
// followed only inside the repository.
func (c *Cache) ReadFile(repoURL, sha, name string, maxBytes int64) ([]byte, error) {
	root, _, unlock, err := c.tree(repoURL, sha)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, err := root.FindEntry(name)
	if err != nil {
		return nil, fmt.Errorf("%s does not exist at %s: %w", name, sha, fs.ErrNotExist)
	}
	if e.Mode == filemode.Symlink {
		return readSymlink(root, name, maxBytes)
	}
	return readBlob(root, name, maxBytes)
}
