package source

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/config"
	"k8s.io/klog/v2"
)

// Removed is a repository Collect took out of the cache, and why.
type Removed struct {
	URL    string
	Bytes  int64
	Reason string
}

// Collect removes what the cache no longer needs: repositories that no Application has used
// (inUse, by repository URL) for Options.UnusedGracePeriod, then, while the cache is larger than
// Options.MaxCacheBytes, the least recently used ones. A directory of the cache whose repository
// cannot be told (left by a crash mid-creation) counts as unused. Call it periodically; each
// call measures the cache on disk.
func (c *Cache) Collect(inUse map[string]bool) ([]Removed, error) {
	entries, err := os.ReadDir(c.opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("reading the repository cache %s: %w", c.opts.Dir, err)
	}
	type repo struct {
		url, dir string
		bytes    int64
		used     time.Time
	}
	// The directories of the repositories open in this process, hashed once per call.
	c.mu.Lock()
	open := make(map[string]string, len(c.repos))
	for url := range c.repos {
		open[c.repoDir(url)] = url
	}
	c.mu.Unlock()
	now := time.Now()
	var kept []repo
	var removed []Removed
	var total int64
	for _, de := range entries {
		if !de.IsDir() {
			continue
		}
		dir := filepath.Join(c.opts.Dir, de.Name())
		size, err := dirSize(dir)
		if err != nil {
			continue // removed meanwhile
		}
		url, ok := open[dir]
		if !ok {
			url = c.urlInConfig(dir)
		}
		if url == "" || !inUse[url] {
			if c.unusedFor(url, dir, now) >= c.opts.UnusedGracePeriod {
				c.remove(url, dir)
				removed = append(removed, Removed{URL: redactURL(url), Bytes: size, Reason: fmt.Sprintf("used by no Application for %s", c.opts.UnusedGracePeriod)})
				continue
			}
		} else {
			c.mu.Lock()
			delete(c.unusedSince, url)
			c.mu.Unlock()
		}
		kept = append(kept, repo{url: url, dir: dir, bytes: size, used: c.usedAt(url, dir)})
		total += size
	}
	if c.opts.MaxCacheBytes > 0 && total > c.opts.MaxCacheBytes {
		sort.Slice(kept, func(i, j int) bool { return kept[i].used.Before(kept[j].used) })
		for _, r := range kept {
			if total <= c.opts.MaxCacheBytes {
				break
			}
			c.remove(r.url, r.dir)
			total -= r.bytes
			removed = append(removed, Removed{URL: redactURL(r.url), Bytes: r.bytes, Reason: "least recently used while the cache was over " + humanBytes(c.opts.MaxCacheBytes)})
		}
	}
	for _, r := range removed {
		klog.InfoS("Removed a repository from the Git cache", "repo", r.URL, "size", humanBytes(r.Bytes), "reason", r.Reason)
	}
	return removed, nil
}

// urlInConfig is the repository URL a cache directory's Git config names as origin, "" when it
// cannot be told or does not match the directory (it then holds no repository of this cache).
func (c *Cache) urlInConfig(dir string) string {
	f, err := os.Open(filepath.Join(dir, "config"))
	if err != nil {
		return ""
	}
	defer f.Close()
	cfg, err := config.ReadConfig(f)
	if err != nil {
		return ""
	}
	origin, ok := cfg.Remotes["origin"]
	if !ok || len(origin.URLs) == 0 || c.repoDir(origin.URLs[0]) != dir {
		return ""
	}
	return origin.URLs[0]
}

// unusedFor is how long Collect has found url unused, starting the clock on the first call.
func (c *Cache) unusedFor(url, dir string, now time.Time) time.Duration {
	key := url
	if key == "" {
		key = dir
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	since, ok := c.unusedSince[key]
	if !ok {
		c.unusedSince[key] = now
		return 0
	}
	return now.Sub(since)
}

// usedAt is when url was last read or fetched: in this process, or else the directory's time.
func (c *Cache) usedAt(url, dir string) time.Time {
	c.mu.Lock()
	at, ok := c.lastUsed[url]
	c.mu.Unlock()
	if ok {
		return at
	}
	if info, err := os.Stat(dir); err == nil {
		return info.ModTime()
	}
	return time.Time{}
}

// remove deletes a repository from the cache, waiting for a fetch into it to end.
func (c *Cache) remove(url, dir string) {
	c.mu.Lock()
	e := c.repos[url]
	c.mu.Unlock()
	if e == nil {
		c.forget(url, dir)
		_ = os.RemoveAll(dir)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c.removeLocked(url, e)
}

// removeLocked deletes the repository of an entry whose lock the caller holds.
func (c *Cache) removeLocked(url string, e *repoEntry) {
	e.removed = true
	dir := c.repoDir(url)
	c.mu.Lock()
	if c.repos[url] == e {
		delete(c.repos, url)
	}
	c.mu.Unlock()
	c.forget(url, dir)
	if err := os.RemoveAll(dir); err != nil {
		klog.ErrorS(err, "Cannot remove a repository from the Git cache", "repo", redactURL(url), "dir", dir)
	}
}

func (c *Cache) forget(url, dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.lastUsed, url)
	delete(c.unusedSince, url)
	delete(c.unusedSince, dir)
}

// humanBytes writes a size the way people read it: 700 KiB, 12 MiB, 10 GiB.
func humanBytes(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
