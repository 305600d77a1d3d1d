package source_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// cacheBytes is what the cache directory holds on disk.
func cacheBytes(t *testing.T, dir string) int64 {
	t.Helper()
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
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// incompressible is n random bytes, which Git cannot shrink.
func incompressible(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestARepositoryOverTheLimitLeavesNothing: the fetch of a repository larger than the limit
// fails with an error naming the limit, the cache holds nothing of it afterwards, and the next
// attempt fails the same way (it used to succeed, the data being there already).
func TestARepositoryOverTheLimitLeavesNothing(t *testing.T) {
	srv := gittest.NewServer(t)
	big := srv.NewRepo("big")
	big.Commit("main", map[string]string{"data/blob.yaml": incompressible(t, 3<<20)}, "3 MiB of data")
	small := srv.NewRepo("small")
	small.Commit("main", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"}, "small")
	dir := t.TempDir()
	c, err := source.NewCache(source.Options{Dir: dir, MaxRepoBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		_, err := c.Resolve(context.Background(), big.URL(), "main", nil)
		if err == nil || !strings.Contains(err.Error(), "larger than the cache allows one repository (1 MiB") {
			t.Fatalf("attempt %d: %v; want the size limit named", attempt, err)
		}
		if size := cacheBytes(t, dir); size != 0 {
			t.Fatalf("attempt %d: the cache holds %d bytes after the refused fetch", attempt, size)
		}
	}
	// A repository within the limit is fetched as usual by the same cache.
	if _, err := c.Resolve(context.Background(), small.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
}

// TestUnusedRepositoriesAreCollectedAfterTheGracePeriod: a repository some Application uses
// stays; one no Application uses stays through the grace period, then goes, and comes back by
// the next fetch when it is used again.
func TestUnusedRepositoriesAreCollectedAfterTheGracePeriod(t *testing.T) {
	srv := gittest.NewServer(t)
	kept := srv.NewRepo("kept")
	kept.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "a")
	dropped := srv.NewRepo("dropped")
	droppedSHA := dropped.Commit("main", map[string]string{"b.yaml": "b: 1\n"}, "b")
	dir := t.TempDir()
	const grace = 200 * time.Millisecond
	c, err := source.NewCache(source.Options{Dir: dir, UnusedGracePeriod: grace})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*gittest.Repo{kept, dropped} {
		if _, err := c.Resolve(context.Background(), r.URL(), "main", nil); err != nil {
			t.Fatal(err)
		}
	}
	inUse := map[string]bool{kept.URL(): true}
	before := cacheBytes(t, dir)
	removed, err := c.Collect(inUse)
	if err != nil || len(removed) != 0 {
		t.Fatalf("the first pass, within the grace period, removed %v (%v)", removed, err)
	}
	waitFor(t, "the unused repository to be collected", func() bool {
		removed, err = c.Collect(inUse)
		return err == nil && len(removed) == 1
	})
	if removed[0].URL != dropped.URL() {
		t.Fatalf("removed %v, want %s", removed, dropped.URL())
	}
	if after := cacheBytes(t, dir); after >= before || after == 0 {
		t.Fatalf("the cache holds %d bytes, %d before: it should have shrunk by one repository", after, before)
	}
	// Used again: fetched again.
	if sha, err := c.Resolve(context.Background(), dropped.URL(), "main", nil); err != nil || sha != droppedSHA {
		t.Fatalf("after collection, main of the dropped repository resolved to %s, %v", sha, err)
	}
	if got, err := c.ReadFiles(dropped.URL(), droppedSHA, "", source.Limits{}); err != nil || len(got) != 1 {
		t.Fatalf("reading the refetched commit: %v, %v", got, err)
	}
}

// TestTheCacheStaysUnderItsSizeCap: past --git-cache-max-size, the least recently used
// repositories go first.
func TestTheCacheStaysUnderItsSizeCap(t *testing.T) {
	srv := gittest.NewServer(t)
	var repos []*gittest.Repo
	for _, name := range []string{"oldest", "middle", "newest"} {
		r := srv.NewRepo(name)
		r.Commit("main", map[string]string{"blob.yaml": incompressible(t, 256<<10)}, name)
		repos = append(repos, r)
	}
	dir := t.TempDir()
	c, err := source.NewCache(source.Options{Dir: dir, MaxCacheBytes: 700 << 10})
	if err != nil {
		t.Fatal(err)
	}
	inUse := map[string]bool{}
	for _, r := range repos {
		inUse[r.URL()] = true
		if _, err := c.Resolve(context.Background(), r.URL(), "main", nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // distinct use times; not synchronisation
	}
	// Use the oldest again: the middle one is now the least recently used.
	if _, err := c.Resolve(context.Background(), repos[0].URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	removed, err := c.Collect(inUse)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0].URL != repos[1].URL() {
		t.Fatalf("removed %+v, want the middle repository alone", removed)
	}
	if size := cacheBytes(t, dir); size > 700<<10 {
		t.Fatalf("the cache holds %d KiB, over its 700 KiB cap", size>>10)
	}
}
