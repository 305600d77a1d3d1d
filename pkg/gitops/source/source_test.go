package source_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

func newCache(t testing.TB) *source.Cache {
	t.Helper()
	c, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCacheWith(t *testing.T, opts source.Options) *source.Cache {
	t.Helper()
	opts.Dir = t.TempDir()
	c, err := source.NewCache(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkListings checks that the cache listed repo's refs want times in all, as the cache counts
// them and as the server saw them. A fetch also starts with a GET of info/refs, so the server's
// listings are those GETs less the fetches.
func checkListings(t *testing.T, srv *gittest.Server, repo *gittest.Repo, c *source.Cache, want int) {
	t.Helper()
	stats := c.Stats()
	onServer := srv.CountRequests("GET "+strings.TrimPrefix(repo.URL(), srv.URL())+"/info/refs") - int(stats.Fetches)
	if stats.Listings != int64(want) || onServer != want {
		t.Errorf("%d ref listings counted by the cache and %d by the server, want %d", stats.Listings, onServer, want)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually.Until(t, 10*time.Second, time.Millisecond, what, func() (bool, string) { return cond(), "" })
}

func TestResolveBranchTagHeadAndCommit(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("app")
	first := repo.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	repo.Tag("main", "v1", "release v1")
	repo.Tag("main", "light", "")
	second := repo.Commit("main", map[string]string{"a.yaml": "a: 2\n"}, "second")
	other := repo.Commit("feature/x", map[string]string{"b.yaml": "b: 1\n"}, "feature")

	c := newCache(t)
	ctx := context.Background()
	for rev, want := range map[string]string{
		"HEAD":      second,
		"main":      second,
		"feature/x": other,
		"v1":        first, // annotated tag: the commit, not the tag object
		"light":     first,
		first:       first,
	} {
		got, err := c.Resolve(ctx, repo.URL(), rev, nil)
		if err != nil {
			t.Errorf("resolve %s: %v", rev, err)
			continue
		}
		if got != want {
			t.Errorf("resolve %s = %s, want %s", rev, got, want)
		}
	}

	_, err := c.Resolve(ctx, repo.URL(), "no-such-branch", nil)
	if !errors.Is(err, source.ErrRevisionNotFound) || !strings.Contains(err.Error(), "no-such-branch") {
		t.Errorf("missing branch: %v", err)
	}
	_, err = c.Resolve(ctx, repo.URL(), strings.Repeat("0", 40), nil)
	if !errors.Is(err, source.ErrRevisionNotFound) {
		t.Errorf("missing commit: %v", err)
	}
}

func TestOneFetchPerNewCommit(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	repo.Commit("main", map[string]string{"apps/a/cm.yaml": "x", "apps/b/cm.yaml": "y"}, "init")
	c := newCache(t)
	ctx := context.Background()

	// Twenty Applications on one repository resolving at once: one fetch.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Resolve(ctx, repo.URL(), "main", nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := c.Stats().Fetches; got != 1 {
		t.Errorf("20 concurrent resolves made %d fetches, want 1", got)
	}

	// Nothing new: a listing only.
	if _, err := c.Resolve(source.WithNotBefore(ctx, time.Now()), repo.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Fetches; got != 1 {
		t.Errorf("resolving an unchanged branch fetched again (%d fetches)", got)
	}

	// A new commit: exactly one more fetch.
	next := repo.Commit("main", map[string]string{"apps/a/cm.yaml": "z"}, "change")
	got, err := c.Resolve(source.WithNotBefore(ctx, time.Now()), repo.URL(), "main", nil)
	if err != nil || got != next {
		t.Fatalf("after a push: %s, %v; want %s", got, err, next)
	}
	if got := c.Stats().Fetches; got != 2 {
		t.Errorf("one new commit cost %d fetches in total, want 2", got)
	}
}

func TestReadFilesWithoutCheckout(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("tree")
	sha := repo.Commit("main", map[string]string{
		"apps/web/deploy.yaml":     "kind: Deployment\n",
		"apps/web/nested/svc.yaml": "kind: Service\n",
		"apps/other/cm.yaml":       "kind: ConfigMap\n",
		"base/kustomization.yaml":  "resources: []\n",
		"README.md":                "hello\n",
	}, "init")
	c := newCache(t)
	if _, err := c.Resolve(context.Background(), repo.URL(), sha, nil); err != nil {
		t.Fatal(err)
	}
	got := readDir(t, c, repo.URL(), sha, "apps/web")
	if len(got) != 2 || got["apps/web/deploy.yaml"] != "kind: Deployment\n" || got["apps/web/nested/svc.yaml"] != "kind: Service\n" {
		t.Errorf("files of apps/web = %v", got)
	}
	// A later commit changes apps/web: each commit reads as it is, in either order, also once
	// the directory's tree at each is remembered.
	next := repo.Commit("main", map[string]string{"apps/web/deploy.yaml": "kind: Deployment # v2\n"}, "v2")
	if _, err := c.Resolve(context.Background(), repo.URL(), next, nil); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for commit, want := range map[string]string{sha: "kind: Deployment\n", next: "kind: Deployment # v2\n"} {
			got := readDir(t, c, repo.URL(), commit, "apps/web")
			if len(got) != 2 || got["apps/web/deploy.yaml"] != want {
				t.Errorf("apps/web at %.7s = %v, want deploy.yaml %q", commit, got, want)
			}
		}
	}
	if _, err := c.ReadFiles(repo.URL(), sha, "apps/missing", source.Limits{}); err == nil || !strings.Contains(err.Error(), "apps/missing") {
		t.Errorf("missing path: %v", err)
	}
	if _, err := c.ReadFiles(repo.URL(), sha, "", source.Limits{MaxFiles: 3}); !errors.Is(err, source.ErrLimitExceeded) {
		t.Errorf("5 files with a limit of 3: %v", err)
	}
	if _, err := c.ReadFiles(repo.URL(), sha, "apps", source.Limits{MaxFileBytes: 10}); !errors.Is(err, source.ErrLimitExceeded) || !strings.Contains(err.Error(), ".yaml") {
		t.Errorf("file over the size limit: %v", err)
	}
}

func TestSymlinksStayInsideTheRepository(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("links")
	repo.Commit("main", map[string]string{"shared/cm.yaml": "kind: ConfigMap\n", "app/own.yaml": "kind: Secret\n"}, "init")
	inside := repo.Symlink("main", "app/cm.yaml", "../shared/cm.yaml")
	c := newCache(t)
	ctx := context.Background()
	if _, err := c.Resolve(ctx, repo.URL(), inside, nil); err != nil {
		t.Fatal(err)
	}
	files, err := c.ReadFiles(repo.URL(), inside, "app", source.Limits{})
	if err != nil {
		t.Fatalf("link inside the repository: %v", err)
	}
	if len(files) != 2 {
		t.Errorf("files = %v", files)
	}

	escape := repo.Symlink("main", "app/passwd.yaml", "../../../../etc/passwd")
	if _, err := c.Resolve(ctx, repo.URL(), escape, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.ReadFiles(repo.URL(), escape, "app", source.Limits{})
	if err == nil || !strings.Contains(err.Error(), "app/passwd.yaml") || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("link escaping the repository: %v", err)
	}
	// An escaping link elsewhere in the repository does not fail reading another directory.
	if _, err := c.ReadFiles(repo.URL(), escape, "shared", source.Limits{}); err != nil {
		t.Fatalf("an escaping link outside the directory read failed the read: %v", err)
	}
}

func TestCredentials(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("private")
	sha := repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	srv.RequireBasicAuth("ferry", "s3cret")
	c := newCache(t)
	ctx := context.Background()

	_, err := c.Resolve(ctx, repo.URL(), "main", nil)
	if err == nil || !strings.Contains(err.Error(), "credentialsRef") {
		t.Errorf("no credentials: %v, want an error pointing at spec.source.credentialsRef", err)
	}
	_, err = c.Resolve(ctx, repo.URL(), "main", &source.Credentials{Username: "ferry", Password: "wrong"})
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v (and the password must never be echoed)", err)
	}
	got, err := c.Resolve(ctx, repo.URL(), "main", &source.Credentials{Username: "ferry", Password: "s3cret"})
	if err != nil || got != sha {
		t.Errorf("right password: %s, %v", got, err)
	}
}

func TestServerDownThenBack(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("flaky")
	sha := repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	c := newCache(t)
	ctx := context.Background()
	srv.SetDown(true)
	if _, err := c.Resolve(ctx, repo.URL(), "main", nil); err == nil {
		t.Fatal("resolved while the server was down")
	}
	srv.SetDown(false)
	got, err := c.Resolve(ctx, repo.URL(), "main", nil)
	if err != nil || got != sha {
		t.Errorf("after the server came back: %s, %v", got, err)
	}
}

func TestFileURLsNeedTheFlag(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("local")
	sha := repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	c := newCache(t)
	if _, err := c.Resolve(context.Background(), "file://"+repo.BareDir(), "main", nil); err == nil || !strings.Contains(err.Error(), "--allow-file-repositories") {
		t.Errorf("file URL without the flag: %v", err)
	}
	allowed, err := source.NewCache(source.Options{Dir: t.TempDir(), AllowFile: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := allowed.Resolve(context.Background(), "file://"+repo.BareDir(), "main", nil)
	if err != nil || got != sha {
		t.Errorf("file URL with the flag: %s, %v", got, err)
	}
}

func TestCredentialsFromSecretData(t *testing.T) {
	if _, err := source.CredentialsFromSecretData(map[string][]byte{"username": []byte("u")}); err == nil {
		t.Error("a Secret with only a username was accepted")
	}
	_, err := source.CredentialsFromSecretData(map[string][]byte{"sshPrivateKey": []byte("k")})
	if err == nil || !strings.Contains(err.Error(), "knownHosts") {
		t.Errorf("ssh key without known hosts: %v", err)
	}
	c, err := source.CredentialsFromSecretData(map[string][]byte{"bearerToken": []byte("t")})
	if err != nil || c.BearerToken != "t" {
		t.Errorf("bearer token: %+v, %v", c, err)
	}
}

func TestConcurrentResolvesShareOneListing(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	sha := repo.Commit("main", map[string]string{"apps/a/cm.yaml": "x"}, "init")
	c := newCache(t)
	ctx := context.Background()

	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := c.Resolve(ctx, repo.URL(), "main", nil)
			if err != nil || got != sha {
				t.Errorf("resolve: %s, %v; want %s", got, err, sha)
			}
		}()
	}
	wg.Wait()
	checkListings(t, srv, repo, c, 1)
	if got := c.Stats().Fetches; got != 1 {
		t.Errorf("20 concurrent resolves made %d fetches, want 1", got)
	}
}

func TestListingReusedWithinMaxAgeUnlessNotBeforeIsLater(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	first := repo.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	repo.Tag("main", "v1", "release v1")
	c := newCacheWith(t, source.Options{RefsMaxAge: time.Hour})
	ctx := context.Background()

	for _, rev := range []string{"main", "HEAD", "v1", "main"} {
		got, err := c.Resolve(ctx, repo.URL(), rev, nil)
		if err != nil || got != first {
			t.Fatalf("resolve %s: %s, %v; want %s", rev, got, err, first)
		}
	}
	if _, err := c.Resolve(ctx, repo.URL(), "no-such-branch", nil); !errors.Is(err, source.ErrRevisionNotFound) {
		t.Errorf("missing branch from a cached listing: %v", err)
	}
	checkListings(t, srv, repo, c, 1)

	// Within RefsMaxAge a push is not seen: that is the price of sharing listings.
	second := repo.Commit("main", map[string]string{"a.yaml": "a: 2\n"}, "second")
	if got, err := c.Resolve(ctx, repo.URL(), "main", nil); err != nil || got != first {
		t.Errorf("resolve within RefsMaxAge: %s, %v; want the listed %s", got, err, first)
	}
	checkListings(t, srv, repo, c, 1)

	// A caller that started after the push sees it, with one new listing.
	got, err := c.Resolve(source.WithNotBefore(ctx, time.Now()), repo.URL(), "main", nil)
	if err != nil || got != second {
		t.Fatalf("resolve with a not-before bound after the push: %s, %v; want %s", got, err, second)
	}
	checkListings(t, srv, repo, c, 2)

	// The newer listing serves everyone else from then on.
	if got, err := c.Resolve(ctx, repo.URL(), "main", nil); err != nil || got != second {
		t.Errorf("resolve after the newer listing: %s, %v; want %s", got, err, second)
	}
	// A bound in the past is met by the cached listing; one in the future by a listing that
	// starts now.
	if _, err := c.Resolve(source.WithNotBefore(ctx, time.Now().Add(-time.Minute)), repo.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	checkListings(t, srv, repo, c, 2)
	if _, err := c.Resolve(source.WithNotBefore(ctx, time.Now().Add(time.Hour)), repo.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	checkListings(t, srv, repo, c, 3)
}

func TestStaleListingIsListedAgain(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	ctx := context.Background()

	// A tiny RefsMaxAge: every listing is stale by the next call.
	always := newCacheWith(t, source.Options{RefsMaxAge: time.Nanosecond})
	for i := 0; i < 3; i++ {
		if _, err := always.Resolve(ctx, repo.URL(), "main", nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := always.Stats().Listings; got != 3 {
		t.Errorf("3 resolves with RefsMaxAge 1ns made %d listings, want 3", got)
	}

	// With 200ms, a call that started less than 200ms after the listing did reuses it, and the
	// first call that starts 200ms after the first resolve returned lists again.
	const maxAge = 200 * time.Millisecond
	c := newCacheWith(t, source.Options{RefsMaxAge: maxAge})
	before := time.Now()
	if _, err := c.Resolve(ctx, repo.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	for {
		call := time.Now()
		if _, err := c.Resolve(ctx, repo.URL(), "main", nil); err != nil {
			t.Fatal(err)
		}
		n := c.Stats().Listings
		if n > 1 {
			if call.Before(before.Add(maxAge)) {
				t.Errorf("listed again %v after the first listing, within RefsMaxAge %v", call.Sub(before), maxAge)
			}
			if n != 2 {
				t.Errorf("%d listings, want 2", n)
			}
			break
		}
		if call.After(after.Add(maxAge)) {
			t.Fatalf("a call %v after the first listing ended reused it; RefsMaxAge is %v", call.Sub(after), maxAge)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFreshCallerWaitsForANewerListing(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	repo.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	c := newCache(t)
	ctx := context.Background()

	// Keep a first listing in flight.
	srv.SetDelay(300 * time.Millisecond)
	var wg sync.WaitGroup
	resolve := func(ctx context.Context, result *string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sha, err := c.Resolve(ctx, repo.URL(), "main", nil)
			if err != nil {
				t.Error(err)
			}
			*result = sha
		}()
	}
	var inFlight, joined, fresh string
	resolve(ctx, &inFlight)
	waitFor(t, "the first listing", func() bool { return c.Stats().Listings == 1 })

	second := repo.Commit("main", map[string]string{"a.yaml": "a: 2\n"}, "second")
	// A caller with the default bound joins the listing in flight; one whose bound is after
	// that listing started waits for it to end and then lists again.
	resolve(ctx, &joined)
	resolve(source.WithNotBefore(ctx, time.Now()), &fresh)
	wg.Wait()
	if fresh != second {
		t.Errorf("the caller bound to after the push got %s, want %s", fresh, second)
	}
	if joined != inFlight {
		t.Errorf("the caller that joined the listing in flight got %s, and the one that started it %s", joined, inFlight)
	}
	checkListings(t, srv, repo, c, 2)
}

func TestCancelledCallerDoesNotFailTheListingItStarted(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("mono")
	sha := repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	c := newCache(t)

	srv.SetDelay(300 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	leader := make(chan error, 1)
	go func() {
		_, err := c.Resolve(ctx, repo.URL(), "main", nil)
		leader <- err
	}()
	waitFor(t, "the first listing", func() bool { return c.Stats().Listings == 1 })
	joiner := make(chan error, 1)
	go func() {
		got, err := c.Resolve(context.Background(), repo.URL(), "main", nil)
		if err == nil && got != sha {
			err = errors.New("resolved " + got + ", want " + sha)
		}
		joiner <- err
	}()
	// The listing stops only when its last caller leaves: the joiner must be waiting for it.
	waitFor(t, "the second caller joined the listing", func() bool { return c.ListingWaiters(repo.URL()) == 2 })
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v, want context.Canceled", err)
	}
	if err := <-joiner; err != nil {
		t.Errorf("the caller that joined a listing whose starter was cancelled: %v", err)
	}
	checkListings(t, srv, repo, c, 1)
}

func TestCredentialsDoNotShareListings(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("private")
	sha := repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	srv.RequireBasicAuth("ferry", "s3cret")
	c := newCacheWith(t, source.Options{RefsMaxAge: time.Hour})
	ctx := context.Background()
	right := &source.Credentials{Username: "ferry", Password: "s3cret"}

	got, err := c.Resolve(ctx, repo.URL(), "main", right)
	if err != nil || got != sha {
		t.Fatalf("right password: %s, %v", got, err)
	}
	// Right after, the same URL with other credentials or none lists for itself, and fails.
	_, err = c.Resolve(ctx, repo.URL(), "main", &source.Credentials{Username: "ferry", Password: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "credentials were refused") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password after the right one: %v", err)
	}
	_, err = c.Resolve(ctx, repo.URL(), "main", nil)
	if err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("no credentials after the right ones: %v", err)
	}
	checkListings(t, srv, repo, c, 3)

	// Equal credentials in another value share the listing.
	if got, err := c.Resolve(ctx, repo.URL(), "main", &source.Credentials{Username: "ferry", Password: "s3cret"}); err != nil || got != sha {
		t.Errorf("right password again: %s, %v", got, err)
	}
	checkListings(t, srv, repo, c, 3)
}

func TestFailedListingIsNotCached(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("flaky")
	sha := repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	c := newCacheWith(t, source.Options{RefsMaxAge: time.Hour})
	ctx := context.Background()

	srv.SetDown(true)
	for i := 0; i < 2; i++ {
		_, err := c.Resolve(ctx, repo.URL(), "main", nil)
		if err == nil || !strings.Contains(err.Error(), "listing refs of") {
			t.Fatalf("resolve while the server is down: %v", err)
		}
	}
	checkListings(t, srv, repo, c, 2)
	srv.SetDown(false)
	got, err := c.Resolve(ctx, repo.URL(), "main", nil)
	if err != nil || got != sha {
		t.Errorf("after the server came back: %s, %v", got, err)
	}
	checkListings(t, srv, repo, c, 3)
}

// TestResolveAPullRequestRef: a revision naming a ref outside the branches and tags (a pull
// request's refs/pull/N/head, which a preview asks for) is fetched on its own, and its files
// read, though no branch or tag reaches its commit. Its SHA alone is still refused: nothing
// names it among the branches and tags.
func TestResolveAPullRequestRef(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("app")
	repo.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	head := repo.PullRequest(7, "main", map[string]string{"a.yaml": "a: 2\n"})

	c := newCache(t)
	ctx := context.Background()
	got, err := c.Resolve(ctx, repo.URL(), "refs/pull/7/head", nil)
	if err != nil {
		t.Fatalf("resolve refs/pull/7/head: %v", err)
	}
	if got != head {
		t.Fatalf("refs/pull/7/head resolved to %s, want %s", got, head)
	}
	data, err := c.ReadFile(repo.URL(), got, "a.yaml", 1<<10)
	if err != nil || string(data) != "a: 2\n" {
		t.Errorf("a.yaml at the pull request's head: %q, %v", data, err)
	}
	// A fresh cache asked for the bare SHA finds it on no branch or tag.
	if _, err := newCache(t).Resolve(ctx, repo.URL(), head, nil); !errors.Is(err, source.ErrRevisionNotFound) {
		t.Errorf("the pull request's SHA alone, in a fresh cache: %v, want not found", err)
	}
}

// readDir reads the files under dir at commit sha, by path.
func readDir(t *testing.T, c *source.Cache, repoURL, sha, dir string) map[string]string {
	t.Helper()
	files, err := c.ReadFiles(repoURL, sha, dir, source.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
	}
	return got
}

// BenchmarkReadFilesOfAMonorepo: what one Application of a 1,000-app monorepo costs to read its
// own directory (four files) at a commit.
func BenchmarkReadFilesOfAMonorepo(b *testing.B) {
	srv := gittest.NewServer(b)
	repo := srv.NewRepo("mono")
	files := map[string]string{}
	for i := range 1000 {
		for _, f := range []string{"deployment", "service", "serviceaccount", "ingress"} {
			files[fmt.Sprintf("apps/app-%05d/%s.yaml", i, f)] = fmt.Sprintf("kind: %s\nmetadata: {name: app-%05d}\n", f, i)
		}
	}
	sha := repo.Commit("main", files, "1,000 apps")
	c := newCache(b)
	if _, err := c.Resolve(context.Background(), repo.URL(), sha, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := c.ReadFiles(repo.URL(), sha, fmt.Sprintf("apps/app-%05d", i%1000), source.Limits{})
		if err != nil || len(got) != 4 {
			b.Fatalf("%d files, %v", len(got), err)
		}
	}
}
