package source_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/counting"
)

func policy(t *testing.T, allow ...string) *egress.Policy {
	t.Helper()
	p, err := egress.Default(allow...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkRefused checks that err is the egress policy's refusal, told without the repository's
// path or anything a server could have said.
func checkRefused(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "fetch refused by egress policy (--egress-deny-cidrs)") {
		t.Errorf("%s: %v, want the egress policy's refusal", what, err)
		return
	}
	if strings.Contains(err.Error(), "/app.git") || strings.Contains(err.Error(), "127.0.0") {
		t.Errorf("%s: the refusal names the address or path: %v", what, err)
	}
}

// TestAGitFetchToADeniedAddressNeverReachesIt: with loopback denied (the default), a repoURL on
// 127.0.0.1, one on a name that resolves there (localhost), and one on an allowed server that
// redirects to a denied address reach nothing at all: the Git servers count zero requests. With
// 127.0.0.1 allowed the same repository resolves.
func TestAGitFetchToADeniedAddressNeverReachesIt(t *testing.T) {
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("app")
	want := repo.Commit("main", map[string]string{"a.yaml": "a: 1\n"}, "first")
	ctx := context.Background()

	denying := newCacheWith(t, source.Options{Egress: policy(t)})
	_, err := denying.Resolve(ctx, repo.URL(), "main", nil)
	checkRefused(t, "a repository on 127.0.0.1", err)
	_, err = denying.Resolve(ctx, strings.Replace(repo.URL(), "127.0.0.1", "localhost", 1), "main", nil)
	checkRefused(t, "a repository on localhost", err)
	if got := srv.Requests(); len(got) != 0 {
		t.Errorf("the denied Git server got requests: %q", got)
	}

	// An allowed server (127.0.0.1) that redirects to a denied one (127.0.0.2).
	internal := counting.NewServer(t, "127.0.0.2:0", nil)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/app.git/info/refs?service=git-upload-pack", http.StatusFound)
	}))
	defer redirector.Close()
	allowing := newCacheWith(t, source.Options{Egress: policy(t, "127.0.0.1/32")})
	_, err = allowing.Resolve(ctx, redirector.URL+"/app.git", "main", nil)
	checkRefused(t, "a redirect to 127.0.0.2", err)
	if n := internal.Requests(); n != 0 {
		t.Errorf("the server a redirect named got %d requests, want 0", n)
	}

	if got, err := allowing.Resolve(ctx, repo.URL(), "main", nil); err != nil || got != want {
		t.Errorf("with 127.0.0.1/32 allowed: %s, %v; want %s", got, err, want)
	}
}

// acceptCounter listens on 127.0.0.1 and counts the connections it accepts, closing each.
func acceptCounter(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), &n
}

// sshCredentials are a key pair's private half and a knownHosts line for addr.
func sshCredentials(t *testing.T, addr string) *source.Credentials {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	line := "[" + host + "]:" + port + " " + string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
	return &source.Credentials{SSHPrivateKey: pem.EncodeToMemory(block), KnownHosts: []byte(line)}
}

// TestSSHAndGitProtocolFetchesGoThroughThePolicy: ssh:// and git:// repositories on a denied
// address are refused before any connection; allowed, the same addresses are connected to
// (the check is the policy's, not a transport that no longer works).
func TestSSHAndGitProtocolFetchesGoThroughThePolicy(t *testing.T) {
	ctx := context.Background()
	addr, accepted := acceptCounter(t)
	sshURL := "ssh://git@" + addr + "/app.git"
	gitURL := "git://" + addr + "/app.git"
	creds := sshCredentials(t, addr)

	denying := newCacheWith(t, source.Options{Egress: policy(t)})
	_, err := denying.Resolve(ctx, sshURL, "main", creds)
	checkRefused(t, "ssh://", err)
	_, err = denying.Resolve(ctx, gitURL, "main", nil)
	checkRefused(t, "git://", err)
	_, err = denying.Resolve(ctx, strings.Replace(gitURL, "127.0.0.1", "localhost", 1), "main", nil)
	checkRefused(t, "git:// on localhost", err)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the denied address accepted %d connections, want 0", n)
	}

	allowing := newCacheWith(t, source.Options{Egress: policy(t, "127.0.0.1/32")})
	if _, err := allowing.Resolve(ctx, sshURL, "main", creds); err == nil || errors.Is(err, egress.ErrRefused) {
		t.Errorf("ssh:// allowed: %v, want a failed handshake", err)
	}
	if _, err := allowing.Resolve(ctx, gitURL, "main", nil); err == nil || errors.Is(err, egress.ErrRefused) {
		t.Errorf("git:// allowed: %v, want a failed exchange", err)
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("the allowed address accepted %d connections, want 2 (ssh and git)", n)
	}
}
