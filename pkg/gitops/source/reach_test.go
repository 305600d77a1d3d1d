package source_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// TestACommitReachableFromNoBranchOrTagCostsNoFetch: once the cache holds every branch and tag
// the remote lists, reads naming random commit SHAs (?revision= on /diff and /manifests) are
// refused without a fetch, saying why; a commit of a branch is still found, and a commit pushed
// since is fetched once.
func TestACommitReachableFromNoBranchOrTagCostsNoFetch(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("app")
	first := repo.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	repo.Commit("main", map[string]string{"a.yaml": "a: 2\n"}, "second")
	repo.Tag("main", "v1", "release v1")
	c := newCache(t)
	fresh := func() context.Context { return source.WithNotBefore(context.Background(), time.Now()) }
	if _, err := c.Resolve(fresh(), repo.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Fetches; got != 1 {
		t.Fatalf("the first resolve made %d fetches", got)
	}

	for i := 0; i < 20; i++ {
		random := fmt.Sprintf("%040x", 0xdead0000+i)
		_, err := c.Resolve(fresh(), repo.URL(), random, nil)
		if !errors.Is(err, source.ErrRevisionNotFound) || !strings.Contains(err.Error(), "reachable from none of its branches and tags") {
			t.Fatalf("random commit %s: %v, want a not-found saying it is reachable from no branch or tag", random, err)
		}
	}
	if got := c.Stats().Fetches; got != 1 {
		t.Errorf("20 reads of random commits made %d fetches in all, want the first one only", got)
	}
	if got, err := c.Resolve(fresh(), repo.URL(), first, nil); err != nil || got != first {
		t.Errorf("an older commit of main: %s, %v", got, err)
	}

	// A commit pushed since, named by its SHA: the tip of a listed branch, fetched once.
	feature := repo.Commit("feature", map[string]string{"b.yaml": "b: 1\n"}, "feature")
	if got, err := c.Resolve(fresh(), repo.URL(), feature, nil); err != nil || got != feature {
		t.Errorf("the tip of a new branch: %s, %v", got, err)
	}
	// A push to main, then random commits: one fetch brings main's new tip, then none.
	repo.Commit("main", map[string]string{"a.yaml": "a: 3\n"}, "third")
	for i := 0; i < 5; i++ {
		if _, err := c.Resolve(fresh(), repo.URL(), fmt.Sprintf("%040x", 0xbeef0000+i), nil); !errors.Is(err, source.ErrRevisionNotFound) {
			t.Errorf("random commit after a push: %v", err)
		}
	}
	if got := c.Stats().Fetches; got != 3 {
		t.Errorf("a new branch and a push cost %d fetches in all, want 3", got)
	}
}

// TestWorkStopsWhenItsLastCallerLeaves: a ref listing whose callers have all gone is
// stopped, not left running for nobody: the Git server sees the client give up.
func TestWorkStopsWhenItsLastCallerLeaves(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("app")
	repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	c := newCache(t)

	srv.SetDelay(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Resolve(ctx, repo.URL(), "main", nil)
		done <- err
	}()
	eventually.Until(t, time.Minute, 5*time.Millisecond, "the listing reached the server", func() (bool, string) {
		return len(srv.Requests()) == 1, fmt.Sprint(srv.Requests())
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left: %v", err)
	}
	eventually.Until(t, time.Minute, 5*time.Millisecond, "the listing was stopped", func() (bool, string) {
		return srv.Abandoned() == 1, fmt.Sprintf("%d requests abandoned", srv.Abandoned())
	})
}
