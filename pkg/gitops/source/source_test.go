package source_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

func newCache(t *testing.T) *source.Cache {
	t.Helper()
	c, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return c
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

	// Nothing new: listings only.
	if _, err := c.Resolve(ctx, repo.URL(), "main", nil); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Fetches; got != 1 {
		t.Errorf("resolving an unchanged branch fetched again (%d fetches)", got)
	}

	// A new commit: exactly one more fetch.
	next := repo.Commit("main", map[string]string{"apps/a/cm.yaml": "z"}, "change")
	got, err := c.Resolve(ctx, repo.URL(), "main", nil)
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
	files, err := c.ReadFiles(repo.URL(), sha, "apps/web", source.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[f.Path] = string(f.Data)
	}
	if len(got) != 2 || got["apps/web/deploy.yaml"] != "kind: Deployment\n" || got["apps/web/nested/svc.yaml"] != "kind: Service\n" {
		t.Errorf("files of apps/web = %v", got)
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
	if _, err := c.ReadRepository(repo.URL(), escape, "app", source.Limits{}); err == nil {
		t.Error("reading the repository for app/ ignored an escaping link inside app/")
	}
	files, err = c.ReadRepository(repo.URL(), escape, "shared", source.Limits{})
	if err != nil {
		t.Fatalf("an escaping link outside the Application's path failed the read: %v", err)
	}
	for _, f := range files {
		if f.Path == "app/passwd.yaml" {
			t.Error("the escaping link's target was read")
		}
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
