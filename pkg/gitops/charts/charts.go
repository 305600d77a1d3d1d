// Package charts resolves and downloads Helm charts from Helm repositories (an index.yaml served
// over https or http) and OCI registries (oci://), for Applications whose spec.source names a
// chart. It is to charts what package source is to Git: a version range is resolved against a
// listing of the repository shared by every Application on it (one index download or tag
// listing per repository and credentials, reused for Options.ListingMaxAge or as
// source.WithNotBefore asks), and a chart version is downloaded once for all of them and kept,
// extracted, in memory. Downloads are bounded in size and time, archives are checked against
// their digests, and no credentials of the server's environment (Helm's or Docker's config) are
// ever used: only the Secret an Application names.
package charts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"k8s.io/utils/lru"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// Ref names a chart in a repository.
type Ref struct {
	// RepoURL is an https:// or http:// Helm repository, or an oci:// registry path under which
	// the chart is a repository of its own.
	RepoURL string
	// Chart is the chart's name.
	Chart string
}

// IsOCI says whether the chart is in an OCI registry.
func (r Ref) IsOCI() bool { return strings.HasPrefix(r.RepoURL, "oci://") }

func (r Ref) String() string { return redactURL(r.RepoURL) + " chart " + r.Chart }

// ErrNotFound is a chart, or a version of it, that the repository does not have.
var ErrNotFound = errors.New("not found")

// Options configure a Cache.
type Options struct {
	// Timeout bounds one request. Default 2m.
	Timeout time.Duration
	// ListingMaxAge is how old a repository's index or tag listing may be and still resolve a
	// version for a caller whose context carries no bound of its own. Default 10s.
	ListingMaxAge time.Duration
	// MaxIndexBytes caps an index.yaml. Default 32 MiB.
	MaxIndexBytes int64
	// MaxArchiveBytes caps a chart archive as downloaded. Default 16 MiB.
	MaxArchiveBytes int64
	// Limits bound an archive's extracted files, as they bound a Git read.
	Limits source.Limits
	// MaxCharts is how many extracted chart versions the cache keeps, and MaxCacheBytes how
	// many bytes they may hold together. Defaults 256 and 256 MiB.
	MaxCharts     int
	MaxCacheBytes int64
	// Egress is the policy every connection to a repository or registry is checked against
	// (redirects included). Nil admits every address: ferry-apiserver always sets one.
	Egress *egress.Policy
	// MaxDependencies is how many dependencies a chart may have downloaded for it, and
	// MaxDependencyIndexBytes caps each of their index.yaml files. Defaults 16 and 8 MiB.
	MaxDependencies         int
	MaxDependencyIndexBytes int64
}

func (o Options) withDefaults() Options {
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.ListingMaxAge == 0 {
		o.ListingMaxAge = 10 * time.Second
	}
	if o.MaxIndexBytes == 0 {
		o.MaxIndexBytes = 32 << 20
	}
	if o.MaxArchiveBytes == 0 {
		o.MaxArchiveBytes = 16 << 20
	}
	if o.MaxCharts == 0 {
		o.MaxCharts = 256
	}
	if o.MaxCacheBytes == 0 {
		o.MaxCacheBytes = 256 << 20
	}
	if o.MaxDependencies == 0 {
		o.MaxDependencies = 16
	}
	if o.MaxDependencyIndexBytes == 0 {
		o.MaxDependencyIndexBytes = 8 << 20
	}
	o.Limits = o.Limits.WithDefaults()
	return o
}

// Stats count what reached a repository, for metrics and tests.
type Stats struct {
	// Listings counts index downloads and tag listings; Downloads chart archives.
	Listings, Downloads int64
}

// Cache resolves chart versions and keeps downloaded charts. It is safe for concurrent use.
type Cache struct {
	opts Options
	// Key keys the hashes that tell credentials apart in cache keys.
	Key []byte

	flights singleflight.Group
	charts  *lru.Cache // of []source.File, by repository, chart, version and credentials
	// cached is the size of the files charts holds.
	cached atomic.Int64

	mu       sync.Mutex
	listings map[string]*listing
	stats    Stats
}

// listing is a repository's index or tag list, and when its download started.
type listing struct {
	started time.Time
	index   *index   // Helm repositories
	tags    []string // OCI registries, highest version first
}

// New returns an empty cache.
func New(opts Options) *Cache {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	opts = opts.withDefaults()
	c := &Cache{opts: opts, Key: key, listings: map[string]*listing{}}
	c.charts = lru.NewWithEvictionFunc(opts.MaxCharts, func(_ lru.Key, v any) { c.cached.Add(-size(v.([]source.File))) })
	return c
}

func size(files []source.File) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f.Data))
	}
	return n
}

// keep adds a chart's files to the cache, and drops the least recently used charts while the
// cache holds more than MaxCacheBytes.
func (c *Cache) keep(key string, files []source.File) {
	c.charts.Add(key, files)
	c.cached.Add(size(files))
	for c.cached.Load() > c.opts.MaxCacheBytes && c.charts.Len() > 1 {
		c.charts.RemoveOldest()
	}
}

// Stats returns what reached a repository so far.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Resolve returns the version of the chart that constraint names: an exact version, a semver
// range such as ~1.2 or >=1.0 <2, or "" (and HEAD) for the newest stable version.
func (c *Cache) Resolve(ctx context.Context, ref Ref, constraint string, creds *Credentials) (string, error) {
	if constraint == "HEAD" {
		constraint = ""
	}
	l, err := c.listing(ctx, ref, creds)
	if err != nil {
		return "", err
	}
	if ref.IsOCI() {
		return pickTag(l.tags, ref, constraint)
	}
	cv, err := l.index.get(ref, constraint)
	if err != nil {
		return "", err
	}
	return cv.Version, nil
}

// Fetch returns the files of a chart version that Resolve returned, with paths from the chart's
// root (Chart.yaml, templates/..., charts/...). Callers must not change them.
func (c *Cache) Fetch(ctx context.Context, ref Ref, version string, creds *Credentials) ([]source.File, error) {
	return c.fetch(ctx, ref, version, creds, nil)
}

// fetch is Fetch; cv, when set, is the version's entry in its repository's index, which is then
// not looked up in a listing.
func (c *Cache) fetch(ctx context.Context, ref Ref, version string, creds *Credentials, cv *repo.ChartVersion) ([]source.File, error) {
	key := strings.Join([]string{ref.RepoURL, ref.Chart, version, creds.cacheID()}, "\x00")
	if files, ok := c.charts.Get(key); ok {
		return files.([]source.File), nil
	}
	v, err, _ := c.flights.Do("chart\x00"+key, func() (any, error) {
		if files, ok := c.charts.Get(key); ok {
			return files, nil
		}
		var archive []byte
		var err error
		if ref.IsOCI() {
			archive, err = c.pullOCI(ctx, ref, version, creds)
		} else {
			archive, err = c.downloadHTTP(ctx, ref, version, creds, cv)
		}
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.stats.Downloads++
		c.mu.Unlock()
		files, err := extract(archive, c.opts.Limits)
		if err != nil {
			return nil, fmt.Errorf("%s version %s: %w", ref, version, err)
		}
		c.keep(key, files)
		return files, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]source.File), nil
}

// listing returns a listing of ref's repository that started no earlier than the caller's
// bound: source.WithNotBefore's, else ListingMaxAge ago. A download in flight is joined; one that
// started before the bound is followed by a new one.
func (c *Cache) listing(ctx context.Context, ref Ref, creds *Credentials) (*listing, error) {
	now := time.Now()
	bound := now.Add(-c.opts.ListingMaxAge)
	if nb, ok := source.NotBefore(ctx); ok && nb.After(bound) {
		// No listing can start later than this call: a later bound is this call's time.
		bound = nb
		if bound.After(now) {
			bound = now
		}
	}
	key := ref.RepoURL + "\x00" + creds.cacheID()
	if ref.IsOCI() {
		key += "\x00" + ref.Chart // each chart is a repository of its own
	}
	for round := 0; ; round++ {
		c.mu.Lock()
		l := c.listings[key]
		c.mu.Unlock()
		if l != nil && !l.started.Before(bound) {
			return l, nil
		}
		v, err, _ := c.flights.Do("listing\x00"+key, func() (any, error) {
			l := &listing{started: time.Now()}
			var err error
			if ref.IsOCI() {
				l.tags, err = c.listTags(ctx, ref, creds)
			} else {
				l.index, err = c.downloadIndex(ctx, ref, creds, c.opts.MaxIndexBytes)
			}
			c.mu.Lock()
			c.stats.Listings++
			if err == nil {
				c.listings[key] = l
			}
			c.mu.Unlock()
			return l, err
		})
		if err != nil {
			return nil, err
		}
		if l := v.(*listing); !l.started.Before(bound) || round == 1 {
			return l, nil
		}
	}
}

// Forget drops the listings of repositories no Application uses any more; keep says which
// repository URLs are still in use.
func (c *Cache) Forget(keep func(repoURL string) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for key := range c.listings {
		repoURL, _, _ := strings.Cut(key, "\x00")
		if !keep(repoURL) {
			delete(c.listings, key)
		}
	}
}

// redactURL drops any userinfo from a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}
