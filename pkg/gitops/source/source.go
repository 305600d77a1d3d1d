// Package source resolves Git revisions to commits and reads trees from a shared on-disk cache of
// bare repositories, one per repository URL. However many Applications use a repository, a new
// commit is fetched once: concurrent fetches of one repository are collapsed, and a revision whose
// commit is already in the cache costs only a ref listing. Ref listings are shared too: callers
// resolving branches or tags of one repository with the same credentials take one listing that is
// fresh enough for them (see Options.RefsMaxAge and WithNotBefore).
package source

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"k8s.io/klog/v2"
	"k8s.io/utils/lru"

	"github.com/ferry-gitops/ferry/pkg/flight"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// Options configure the cache.
type Options struct {
	// Dir holds one bare repository per repository URL.
	Dir string
	// AllowFile admits file:// repository URLs.
	AllowFile bool
	// Timeout bounds one ref listing or fetch. Default 2m.
	Timeout time.Duration
	// MaxRepoBytes caps the on-disk size of one cached repository: a fetch is stopped by its
	// first write past it, and the repository is removed from the cache. Default 1 GiB.
	MaxRepoBytes int64
	// UnusedGracePeriod is how long a repository no Application uses stays in the cache before
	// Collect removes it. Default 1h.
	UnusedGracePeriod time.Duration
	// MaxCacheBytes caps the whole cache: Collect removes the least recently used repositories
	// while it is over. 0 means no cap.
	MaxCacheBytes int64
	// RefsMaxAge is how old a ref listing may be for a caller whose context carries no bound of
	// its own (see WithNotBefore): a listing that started at most RefsMaxAge ago is reused
	// instead of asking the remote again. Default 5s. Interval reconciles of many Applications on
	// one repository then share one listing, instead of each costing an HTTP round trip and a
	// process on the Git server, while a push is still seen within seconds. A sync operation or
	// a user's request that must see a commit pushed just before passes its own start time with
	// WithNotBefore. A negative value makes every call list anew, or join a listing that started
	// after the call did.
	RefsMaxAge time.Duration
	// MissingTTL is how long a commit SHA that a fetch did not bring is known to be missing: a
	// loop of reads naming random SHAs costs one fetch per SHA per MissingTTL, not one per
	// request. Default 30 s.
	MissingTTL time.Duration
	// Egress is the policy every connection to a remote is checked against (ssh, http, https
	// and git alike, redirects included). Nil admits every address: ferry-apiserver always
	// sets one (--egress-deny-cidrs, --egress-allow-cidrs).
	Egress *egress.Policy
	// OnFetch, when set, is told of every fetch that reached a remote: how long it took and
	// how it ended. It lets the caller keep metrics without this package knowing of them.
	OnFetch func(d time.Duration, err error)
}

// Stats count what the cache did, for metrics and tests.
type Stats struct {
	// Fetches is the number of fetches that reached a remote.
	Fetches int64
	// Listings is the number of ref listings that reached a remote.
	Listings int64
}

// Cache is the shared repository cache. It is safe for concurrent use.
type Cache struct {
	opts Options
	// flights are the fetches in progress, each shared by the callers that want it and stopped
	// when the last of them has gone.
	flights flight.Group
	// credsKey keys the hashes of credentials in the ref listing cache, so that the hashes
	// mean nothing outside this process.
	credsKey []byte

	mu    sync.Mutex
	repos map[string]*repoEntry
	stats Stats
	// lastUsed is when each repository URL was last read or fetched, for Collect's LRU;
	// unusedSince when Collect first found it used by no Application.
	lastUsed    map[string]time.Time
	unusedSince map[string]time.Time

	// refsMu guards the ref listings: the newest completed one and the one in flight, per
	// repository URL and credentials.
	refsMu      sync.Mutex
	refs        map[refsKey]*refListing
	refsFlights map[refsKey]*refsFlight

	// missing holds, per repository URL and commit SHA, when a fetch last failed to bring it.
	missingMu sync.Mutex
	missing   map[string]time.Time

	// sshProxy makes go-git's ssh connections dial under opts.Egress.
	sshProxy transport.ProxyOptions
}

// maxDirTrees bounds how many (commit, directory) trees a repository's entry remembers: a
// thousand Applications of one monorepo at two commits, twice over.
const maxDirTrees = 4096

type repoEntry struct {
	// mu serialises fetches into one bare repository (write lock) with the reads of Resolve and
	// Commit (read lock). go-git's filesystem storage is not safe for concurrent use: a fetch
	// adds to the packfile index that reads look objects up in, and the first read loads that
	// index and other state lazily. entry loads it before sharing the repository, so that reads
	// need only the read lock between them.
	mu   sync.RWMutex
	repo *git.Repository
	// dirs remembers the tree of a directory at a commit (plumbing.Hash, by commit and path).
	dirs *lru.Cache
	// fs is the repository's directory, whose writes a fetch limits to MaxRepoBytes.
	fs *budgetFS
	// removed says Collect or the size limit removed the directory: a fetch holding this entry
	// must not write into it again (which would recreate a partial repository).
	removed bool
}

// has reports whether the object store holds hash.
func (e *repoEntry) has(hash plumbing.Hash) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.repo.Storer.HasEncodedObject(hash) == nil
}

// commit returns the commit object hash names.
func (e *repoEntry) commit(hash plumbing.Hash) (*object.Commit, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.repo.CommitObject(hash)
}

// peel returns the commit hash names, following annotated tags.
func (e *repoEntry) peel(hash plumbing.Hash, revision string) (string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return peelToCommit(e.repo, hash, revision)
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// ErrRevisionNotFound is returned when a branch, tag or commit does not exist in the repository.
var ErrRevisionNotFound = errors.New("revision not found")

// NewCache returns a cache storing repositories under opts.Dir.
func NewCache(opts Options) (*Cache, error) {
	useQuietHTTPClient()
	if opts.Dir == "" {
		return nil, errors.New("source cache: a directory is required")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.MaxRepoBytes == 0 {
		opts.MaxRepoBytes = 1 << 30
	}
	if opts.RefsMaxAge == 0 {
		opts.RefsMaxAge = 5 * time.Second
	}
	if opts.MissingTTL == 0 {
		opts.MissingTTL = 30 * time.Second
	}
	if opts.UnusedGracePeriod == 0 {
		opts.UnusedGracePeriod = time.Hour
	}
	credsKey := make([]byte, 32)
	if _, err := rand.Read(credsKey); err != nil {
		return nil, fmt.Errorf("source cache: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the repository cache %s: %w", opts.Dir, err)
	}
	return &Cache{
		opts:        opts,
		credsKey:    credsKey,
		repos:       map[string]*repoEntry{},
		lastUsed:    map[string]time.Time{},
		unusedSince: map[string]time.Time{},
		refs:        map[refsKey]*refListing{},
		refsFlights: map[refsKey]*refsFlight{},
		sshProxy:    sshProxyOptions(opts.Egress),
	}, nil
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Cache) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// Resolve returns the commit that revision names in repoURL, fetching it into the cache when it
// is not there yet. revision is HEAD, a branch, a tag or a full commit SHA. A branch, tag or HEAD
// is looked up in a listing of the remote's refs that started no earlier than the context's
// bound (WithNotBefore), by default Options.RefsMaxAge ago.
//
// The cache holds what any caller fetched, so nothing is served from it before the caller's own
// credentials have read the repository: even a commit SHA already in the cache costs a ref
// listing with those credentials (shared, like every listing, among callers presenting the same
// ones). Otherwise a tenant who learned a SHA of another tenant's private repository would read
// it with no credentials at all.
//
// A commit SHA that is not in the cache is fetched only when a fetch may bring it (reach.go): a
// SHA reachable from no branch or tag is refused without one.
func (c *Cache) Resolve(ctx context.Context, repoURL, revision string, creds *Credentials) (string, error) {
	if err := c.checkURL(repoURL); err != nil {
		return "", err
	}
	auth, err := creds.authMethod(repoURL)
	if err != nil {
		return "", err
	}
	entry, err := c.entry(repoURL)
	if err != nil {
		return "", err
	}
	if revision == "" {
		revision = "HEAD"
	}

	if commitSHA.MatchString(revision) {
		refs, err := c.listRefs(ctx, repoURL, entry, creds, auth)
		if err != nil {
			return "", err
		}
		if _, err := entry.commit(plumbing.NewHash(revision)); err == nil {
			return revision, nil
		}
		notFound := fmt.Errorf("commit %s: %w in %s", revision, ErrRevisionNotFound, redactURL(repoURL))
		if c.knownMissing(repoURL, revision) {
			return "", notFound
		}
		if _, bound := notBeforeFrom(ctx); !bound && !entry.fetchMayBring(refs, revision) {
			// A listing up to RefsMaxAge old may predate the push of that commit: a caller
			// that asked for no fresher one gets a listing from now before it is refused.
			if refs, err = c.listRefs(WithNotBefore(ctx, time.Now()), repoURL, entry, creds, auth); err != nil {
				return "", err
			}
		}
		if !entry.fetchMayBring(refs, revision) {
			return "", fmt.Errorf("commit %s: %w in %s: it is reachable from none of its branches and tags (Ferry reads only those; name a branch, a tag, or a commit of one)",
				revision, ErrRevisionNotFound, redactURL(repoURL))
		}
		if err := c.fetch(ctx, repoURL, entry, auth, revision, ""); err != nil {
			return "", err
		}
		if _, err := entry.commit(plumbing.NewHash(revision)); err != nil {
			c.markMissing(repoURL, revision)
			return "", notFound
		}
		return revision, nil
	}

	sha, name, err := c.lsRemote(ctx, repoURL, entry, creds, auth, revision)
	if err != nil {
		return "", err
	}
	hash := plumbing.NewHash(sha)
	if !entry.has(hash) {
		if err := c.fetch(ctx, repoURL, entry, auth, sha, extraRef(name)); err != nil {
			return "", err
		}
	}
	return entry.peel(hash, revision)
}

// peelToCommit returns the commit a hash names, following annotated tags.
func peelToCommit(repo *git.Repository, hash plumbing.Hash, revision string) (string, error) {
	for i := 0; i < 10; i++ {
		if _, err := repo.CommitObject(hash); err == nil {
			return hash.String(), nil
		}
		tag, err := repo.TagObject(hash)
		if err != nil {
			return "", fmt.Errorf("revision %s resolved to %s, which is neither a commit nor a tag in the cache: %w", revision, hash, err)
		}
		hash = tag.Target
	}
	return "", fmt.Errorf("revision %s: too many nested tags", revision)
}

// lsRemote finds revision among the remote's refs, in a listing fresh enough for ctx, and
// returns its commit and the name of the ref that named it.
func (c *Cache) lsRemote(ctx context.Context, repoURL string, entry *repoEntry, creds *Credentials, auth transport.AuthMethod, revision string) (string, plumbing.ReferenceName, error) {
	byName, err := c.listRefs(ctx, repoURL, entry, creds, auth)
	if err != nil {
		return "", "", err
	}
	candidates := []plumbing.ReferenceName{
		plumbing.ReferenceName(revision),
		plumbing.NewBranchReferenceName(revision),
		plumbing.NewTagReferenceName(revision),
	}
	for _, name := range candidates {
		ref, ok := byName[name]
		if !ok {
			continue
		}
		// Follow symbolic refs (HEAD -> refs/heads/main) within the listing.
		for i := 0; ref.Type() == plumbing.SymbolicReference && i < 5; i++ {
			target, ok := byName[ref.Target()]
			if !ok {
				return "", "", fmt.Errorf("%s points at %s, which %s does not have: %w", revision, ref.Target(), redactURL(repoURL), ErrRevisionNotFound)
			}
			ref = target
		}
		// An annotated tag is listed with its peeled commit as "<tag>^{}".
		if peeled, ok := byName[plumbing.ReferenceName(string(ref.Name())+"^{}")]; ok {
			ref = peeled
		}
		return ref.Hash().String(), name, nil
	}
	return "", "", fmt.Errorf("branch or tag %q: %w in %s", revision, ErrRevisionNotFound, redactURL(repoURL))
}

// fetch brings the remote's branches and tags into the cache, and the one other ref extra names
// when not empty. Concurrent fetches of the same repository for the same wanted commit share one
// network round trip, which goes on while one of them waits, and stops when none does.
func (c *Cache) fetch(ctx context.Context, repoURL string, entry *repoEntry, auth transport.AuthMethod, want string, extra config.RefSpec) error {
	_, err := c.flights.Do(ctx, repoURL+"@"+want, func(ctx context.Context) (any, error) {
		entry.mu.Lock()
		defer entry.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return nil, err // every caller left while this fetch waited for the lock
		}
		if entry.removed {
			return nil, fmt.Errorf("the cache of %s was removed while this fetch waited: retrying", redactURL(repoURL))
		}
		// Another flight may have brought the object while this one waited for the lock.
		if entry.repo.Storer.HasEncodedObject(plumbing.NewHash(want)) == nil {
			return nil, nil
		}
		dir := c.repoDir(repoURL)
		size, err := dirSize(dir)
		if err != nil {
			return nil, fmt.Errorf("measuring the cache of %s: %w", redactURL(repoURL), err)
		}
		entry.fs.limit(c.opts.MaxRepoBytes - size)
		defer entry.fs.unlimit()
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		ctx, target, proxyOpts, err := c.remote(ctx, repoURL)
		if err != nil {
			return nil, wrapRemoteError(repoURL, "fetching from", err)
		}
		start := time.Now()
		c.count(func(s *Stats) { s.Fetches++ })
		err = entry.repo.FetchContext(ctx, &git.FetchOptions{
			RemoteName:   "origin",
			RemoteURL:    target,
			ProxyOptions: proxyOpts,
			RefSpecs:     refSpecs(extra),
			Auth:         auth,
			Tags:         git.NoTags,
			Force:        true,
		})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			err = nil
		}
		if entry.fs.exceeded() {
			err = errOverBudget
		}
		if c.opts.OnFetch != nil {
			c.opts.OnFetch(time.Since(start), err)
		}
		if errors.Is(err, errOverBudget) {
			// Nothing of it stays: what the fetch wrote, and the repository with it, so that the
			// next attempt starts from nothing and stops at the same place.
			c.removeLocked(repoURL, entry)
			return nil, fmt.Errorf("repository %s is larger than the cache allows one repository (%d MiB, ferry-apiserver --git-max-repository-size): the fetch was stopped and nothing of it kept", redactURL(repoURL), c.opts.MaxRepoBytes>>20)
		}
		if diskFull(err) {
			// What the fetch wrote goes, so that the space it took is free again: the next
			// attempt starts from nothing once the disk has room.
			c.removeLocked(repoURL, entry)
			return nil, fmt.Errorf("fetching %s: the Git cache's disk (%s) is full: free space there, or lower ferry-apiserver --git-cache-max-size below the disk's size so that least recently used repositories make room; retrying", redactURL(repoURL), c.opts.Dir)
		}
		if err != nil {
			return nil, wrapRemoteError(repoURL, "fetching from", err)
		}
		klog.FromContext(ctx).V(2).Info("Fetched repository", "repo", redactURL(repoURL), "want", want, "duration", time.Since(start))
		return nil, nil
	})
	if err != nil && errors.Is(err, ctx.Err()) {
		return wrapRemoteError(repoURL, "fetching from", err)
	}
	return err
}

// extraRef is the refspec that fetches a ref outside branches and tags that a revision named by
// its full name, such as a pull request's refs/pull/123/head or a merge request's
// refs/merge-requests/7/head: kept under refs/remotes/origin-refs/, apart from the branches. ""
// for a branch or tag, which every fetch brings.
func extraRef(name plumbing.ReferenceName) config.RefSpec {
	if name == "" || name.IsBranch() || name.IsTag() || name == plumbing.HEAD || !strings.HasPrefix(name.String(), "refs/") {
		return ""
	}
	return config.RefSpec("+" + name.String() + ":refs/remotes/origin-refs/" + strings.TrimPrefix(name.String(), "refs/"))
}

// refSpecs are what a fetch asks for: every branch and tag, and extra when not empty.
func refSpecs(extra config.RefSpec) []config.RefSpec {
	specs := []config.RefSpec{"+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"}
	if extra != "" {
		specs = append(specs, extra)
	}
	return specs
}

// Commit returns a commit object of a repository already in the cache.
func (c *Cache) Commit(repoURL, sha string) (*object.Commit, error) {
	entry, err := c.entry(repoURL)
	if err != nil {
		return nil, err
	}
	commit, err := entry.commit(plumbing.NewHash(sha))
	if err != nil {
		return nil, fmt.Errorf("commit %s of %s is not in the cache: %w", sha, redactURL(repoURL), err)
	}
	return commit, nil
}

func (c *Cache) repoDir(repoURL string) string {
	sum := sha256.Sum256([]byte(repoURL))
	return filepath.Join(c.opts.Dir, hex.EncodeToString(sum[:16]))
}

// entry opens (or creates) the bare repository of repoURL.
func (c *Cache) entry(repoURL string) (*repoEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastUsed[repoURL] = time.Now()
	if e, ok := c.repos[repoURL]; ok {
		return e, nil
	}
	dir := c.repoDir(repoURL)
	fs := newBudgetFS(osfs.New(dir))
	storage := filesystem.NewStorage(fs, cache.NewObjectLRUDefault())
	repo, err := git.Open(storage, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.Init(storage, nil) // no worktree: bare
		if err == nil {
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{repoURL}})
		}
	}
	if err != nil {
		return nil, fmt.Errorf("opening the cache of %s in %s: %w (delete that directory to start afresh)", redactURL(repoURL), dir, err)
	}
	// Load the storage's lazy state (the packfile index, the incoming objects directory) now,
	// before other goroutines read from it: a lookup of an absent object loads it all.
	_ = repo.Storer.HasEncodedObject(plumbing.ZeroHash)
	e := &repoEntry{repo: repo, fs: fs, dirs: lru.New(maxDirTrees)}
	c.repos[repoURL] = e
	return e, nil
}

func (c *Cache) checkURL(repoURL string) error {
	if strings.HasPrefix(repoURL, "file://") && !c.opts.AllowFile {
		return fmt.Errorf("file:// repositories are disabled on this server (start ferry-apiserver with --allow-file-repositories)")
	}
	return nil
}

// redactURL drops any user information from a URL before it goes into a message.
func redactURL(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil || u.User == nil {
		return repoURL
	}
	u.User = nil
	return u.String()
}

func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	return size, err
}

// knownMissing reports whether a fetch within MissingTTL did not bring sha.
func (c *Cache) knownMissing(repoURL, sha string) bool {
	c.missingMu.Lock()
	defer c.missingMu.Unlock()
	at, ok := c.missing[repoURL+"@"+sha]
	if ok && time.Since(at) >= c.opts.MissingTTL {
		delete(c.missing, repoURL+"@"+sha)
		return false
	}
	return ok
}

func (c *Cache) markMissing(repoURL, sha string) {
	c.missingMu.Lock()
	defer c.missingMu.Unlock()
	if c.missing == nil {
		c.missing = map[string]time.Time{}
	}
	// Expired entries go as new ones come, so random SHAs cannot grow the map without bound.
	for k, at := range c.missing {
		if time.Since(at) >= c.opts.MissingTTL {
			delete(c.missing, k)
		}
	}
	c.missing[repoURL+"@"+sha] = time.Now()
}

// diskFull reports whether err is a write refused for want of space (or quota) on the cache's
// disk. go-git does not always wrap the underlying error, so its text counts too.
func diskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded")
}
