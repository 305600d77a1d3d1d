package source_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// TestNoCredentialsMeansNoSSH: an ssh repository named without credentials is refused before
// any connection, whatever SSH agent or ~/.ssh the process has: Ferry's own keys never open a
// tenant's repository.
func TestNoCredentialsMeansNoSSH(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var dialed atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			_ = c.Close()
		}
	}()
	// An agent in the environment, which go-git would try for an ssh URL without auth.
	t.Setenv("SSH_AUTH_SOCK", t.TempDir()+"/agent.sock")

	c := newCache(t)
	for _, url := range []string{"ssh://git@" + l.Addr().String() + "/org/repo.git", "git@127.0.0.1:org/repo.git"} {
		_, err := c.Resolve(context.Background(), url, "main", nil)
		if !errors.Is(err, source.ErrCredentialsRequired) {
			t.Errorf("%s without credentials: %v, want ErrCredentialsRequired", url, err)
		}
	}
	if n := dialed.Load(); n != 0 {
		t.Errorf("Ferry connected %d times to an ssh server it had no credentials for", n)
	}
}

// TestNoCredentialsMeansAnonymousHTTP: without credentials Ferry asks anonymously, even when
// the process's home holds a .netrc or git credentials for the host.
func TestNoCredentialsMeansAnonymousHTTP(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("private")
	repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	srv.RequireBasicAuth("ferry", "s3cret")
	home := t.TempDir()
	for name, content := range map[string]string{
		".netrc":           "machine 127.0.0.1 login ferry password s3cret\n",
		".git-credentials": strings.Replace(srv.URL(), "http://", "http://ferry:s3cret@", 1) + "\n",
		".gitconfig":       "[credential]\n\thelper = store\n",
	} {
		if err := os.WriteFile(filepath.Join(home, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)

	_, err := newCache(t).Resolve(context.Background(), repo.URL(), "main", nil)
	if err == nil || !strings.Contains(err.Error(), "authentication required") {
		t.Errorf("a private repository without credentials: %v, want authentication required", err)
	}
}

// TestACachedCommitIsServedOnlyToWhoeverCanReadTheRepository: tenant A's Application fetched a
// commit of a private repository into the shared cache. Tenant B, who learned the SHA, names it
// with no credentials or wrong ones: refused, as the remote refuses them, and nothing read. A
// second Application with A's credentials is served from the cache: no second fetch.
func TestACachedCommitIsServedOnlyToWhoeverCanReadTheRepository(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("team-a-private")
	sha := repo.Commit("main", map[string]string{"app/secret-plan.yaml": "kind: ConfigMap"}, "init")
	srv.RequireBasicAuth("team-a", "s3cret")
	c := newCache(t)
	ctx := context.Background()
	teamA := &source.Credentials{Username: "team-a", Password: "s3cret"}
	if got, err := c.Resolve(ctx, repo.URL(), "main", teamA); err != nil || got != sha {
		t.Fatalf("team A: %s, %v", got, err)
	}

	for name, creds := range map[string]*source.Credentials{
		"no credentials":    nil,
		"wrong credentials": {Username: "team-b", Password: "guess"},
	} {
		_, err := c.Resolve(source.WithNotBefore(ctx, time.Now()), repo.URL(), sha, creds)
		if err == nil || !strings.Contains(err.Error(), "authentication required") && !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s naming a cached commit of a private repository: %v, want an authentication error", name, err)
		}
	}

	if got, err := c.Resolve(ctx, repo.URL(), sha, teamA); err != nil || got != sha {
		t.Errorf("team A again, by SHA: %s, %v", got, err)
	}
	if got := c.Stats().Fetches; got != 1 {
		t.Errorf("%d fetches, want 1: the cache still serves whoever proved access", got)
	}
}

// TestRemoteErrorPagesAreNeverEchoed: a repoURL pointing at some internal HTTP service gets an
// error in Ferry's words; the service's page (a marker here) appears nowhere in it.
func TestRemoteErrorPagesAreNeverEchoed(t *testing.T) {
	const marker = "MARKER-internal-admin-page"
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusTeapot, http.StatusNotFound, http.StatusUnauthorized} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(strings.Repeat(marker+" ", 1000)))
		}))
		_, err := newCache(t).Resolve(context.Background(), srv.URL+"/org/repo.git", "main", nil)
		srv.Close()
		if err == nil {
			t.Fatalf("status %d: no error", status)
		}
		if strings.Contains(err.Error(), marker) {
			t.Errorf("status %d: the remote's page is in the error: %.200s", status, err)
		}
	}
}

// TestUnknownCommitsCostOneFetchPerInterval: a viewer asking for random SHAs in a loop costs one
// fetch per SHA per MissingTTL, not one per request; a SHA pushed later resolves once the TTL
// has passed.
func TestUnknownCommitsCostOneFetchPerInterval(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("app")
	repo.Commit("main", map[string]string{"a.yaml": "a"}, "init")
	c := newCacheWith(t, source.Options{MissingTTL: 300 * time.Millisecond})
	ctx := context.Background()
	unknown := strings.Repeat("ab", 20)
	for i := 0; i < 10; i++ {
		if _, err := c.Resolve(ctx, repo.URL(), unknown, nil); !errors.Is(err, source.ErrRevisionNotFound) {
			t.Fatalf("unknown SHA: %v", err)
		}
	}
	if n := c.Stats().Fetches; n != 1 {
		t.Errorf("10 reads of one unknown SHA made %d fetches, want 1", n)
	}

	sha := repo.Commit("main", map[string]string{"a.yaml": "b"}, "later")
	eventually.Until(t, 10*time.Second, 100*time.Millisecond, "a pushed commit resolves after the TTL", func() (bool, string) {
		got, err := c.Resolve(ctx, repo.URL(), sha, nil)
		return err == nil && got == sha, fmt.Sprint(err)
	})
}

// pkt is one Git pkt-line.
func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// TestGitProtocolErrorsAreNeverEchoed: a server answering 200 with words of its own — an "ERR"
// line of the Git protocol, or anything that is not Git — gets an error in Ferry's words; an
// endless ref advertisement is cut at its bound; an unreachable server keeps Go's own
// description of the failure, which the remote does not write.
func TestGitProtocolErrorsAreNeverEchoed(t *testing.T) {
	const marker = "MARKER-remote-words"
	bodies := map[string]string{
		"ERR line":               pkt("# service=git-upload-pack\n") + "0000" + pkt("ERR "+marker+"\n"),
		"ERR line alone":         pkt("ERR " + marker + "\n"),
		"not Git at all":         "<html>" + strings.Repeat(marker+" ", 100) + "</html>",
		"a broken advertisement": pkt("# service=git-upload-pack\n") + "0000" + pkt(marker+" "+marker+"\n") + "0000",
		"progress then an error": pkt("# service=git-upload-pack\n") + "0000" + "zzzz" + marker,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
				_, _ = w.Write([]byte(body))
			}))
			defer srv.Close()
			_, err := newCache(t).Resolve(context.Background(), srv.URL+"/org/repo.git", "main", nil)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), marker) {
				t.Errorf("the remote's words are in the error: %.300s", err)
			}
		})
	}

	t.Run("an endless advertisement", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
			_, _ = w.Write([]byte(pkt("# service=git-upload-pack\n") + "0000" + pkt(strings.Repeat("1", 40)+" HEAD\x00multi_ack ofs-delta\n")))
			line := []byte(pkt(strings.Repeat("2", 40) + " refs/heads/" + strings.Repeat("b", 900) + "\n"))
			for i := 0; i < (128<<20)/len(line); i++ { // twice the bound, then stop
				if _, err := w.Write(line); err != nil {
					return
				}
			}
		}))
		defer srv.Close()
		_, err := newCache(t).Resolve(context.Background(), srv.URL+"/org/repo.git", "main", nil)
		if err == nil || !strings.Contains(err.Error(), "larger than 64 MiB") {
			t.Fatalf("an endless ref advertisement: %v, want the bound named", err)
		}
	})

	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = newCache(t).Resolve(context.Background(), "http://"+addr+"/org/repo.git", "main", nil)
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "check that the server is up") {
			t.Fatalf("a closed port: %v, want Go's connection refused and what to check", err)
		}
	})
}
