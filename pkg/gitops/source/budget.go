package source

import (
	"errors"
	"math"
	"os"
	"sync/atomic"

	"github.com/go-git/go-billy/v5"
)

// errOverBudget stops a write that would take a repository past its size limit.
var errOverBudget = errors.New("the repository is over its size limit")

// budgetFS is a repository's directory where writes draw on a shared budget: a fetch is stopped
// by its first write past the per-repository limit, instead of being measured after it has
// written everything (a remote could fill the disk before the check). Outside a fetch the
// budget is unlimited.
type budgetFS struct {
	billy.Filesystem
	left *atomic.Int64
}

func newBudgetFS(fs billy.Filesystem) *budgetFS {
	left := &atomic.Int64{}
	left.Store(math.MaxInt64)
	return &budgetFS{Filesystem: fs, left: left}
}

// limit lets the writes from now on add at most n bytes; unlimit lifts it.
func (f *budgetFS) limit(n int64) { f.left.Store(n) }
func (f *budgetFS) unlimit()      { f.left.Store(math.MaxInt64) }

// exceeded reports whether a write was refused since the last limit.
func (f *budgetFS) exceeded() bool { return f.left.Load() < 0 }

func (f *budgetFS) wrap(file billy.File, err error) (billy.File, error) {
	if err != nil {
		return nil, err
	}
	return &budgetFile{File: file, left: f.left}, nil
}

func (f *budgetFS) Create(name string) (billy.File, error) {
	return f.wrap(f.Filesystem.Create(name))
}

func (f *budgetFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	return f.wrap(f.Filesystem.OpenFile(name, flag, perm))
}

func (f *budgetFS) TempFile(dir, prefix string) (billy.File, error) {
	return f.wrap(f.Filesystem.TempFile(dir, prefix))
}

func (f *budgetFS) Chroot(path string) (billy.Filesystem, error) {
	sub, err := f.Filesystem.Chroot(path)
	if err != nil {
		return nil, err
	}
	return &budgetFS{Filesystem: sub, left: f.left}, nil
}

type budgetFile struct {
	billy.File
	left *atomic.Int64
}

func (b *budgetFile) Write(p []byte) (int, error) {
	if b.left.Add(-int64(len(p))) < 0 {
		return 0, errOverBudget
	}
	return b.File.Write(p)
}
