package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

var (
	testToken = []byte("It's a Secret to Everybody")
	testBody  = []byte("Hello, World!")
)

// githubDocSignature is the signature GitHub's documentation gives for testToken and testBody
// (docs.github.com, "Validating webhook deliveries", "Testing the webhook payload validation").
const githubDocSignature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

// hmacHex is the hex HMAC-SHA256 of body with key, computed here as each host documents it.
func hmacHex(key, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestVerifyEachHostsSignature(t *testing.T) {
	sig := hmacHex(testToken, testBody)
	wrong := hmacHex([]byte("another token"), testBody)
	for _, tc := range []struct {
		name   string
		typ    gitopsv1alpha1.ReceiverType
		header http.Header
		want   error
	}{
		{"github, the documented example", gitopsv1alpha1.ReceiverGitHub, headers("X-Hub-Signature-256", githubDocSignature), nil},
		{"github, another token", gitopsv1alpha1.ReceiverGitHub, headers("X-Hub-Signature-256", "sha256="+wrong), ErrBadSignature},
		{"github, the SHA-1 header only", gitopsv1alpha1.ReceiverGitHub, headers("X-Hub-Signature", "sha1=0123"), ErrUnsigned},
		{"github, no prefix", gitopsv1alpha1.ReceiverGitHub, headers("X-Hub-Signature-256", sig), ErrBadSignature},
		{"github, unsigned", gitopsv1alpha1.ReceiverGitHub, headers(), ErrUnsigned},
		{"gitlab, the token", gitopsv1alpha1.ReceiverGitLab, headers("X-Gitlab-Token", string(testToken)), nil},
		{"gitlab, another token", gitopsv1alpha1.ReceiverGitLab, headers("X-Gitlab-Token", "It's a Secret to Everybody!"), ErrBadSignature},
		{"gitlab, no token", gitopsv1alpha1.ReceiverGitLab, headers(), ErrUnsigned},
		{"gitea", gitopsv1alpha1.ReceiverGitea, headers("X-Gitea-Signature", sig), nil},
		{"forgejo", gitopsv1alpha1.ReceiverGitea, headers("X-Forgejo-Signature", sig), nil},
		{"gitea, another token", gitopsv1alpha1.ReceiverGitea, headers("X-Gitea-Signature", wrong), ErrBadSignature},
		{"gitea, not hex", gitopsv1alpha1.ReceiverGitea, headers("X-Gitea-Signature", "zz"), ErrBadSignature},
		{"gitea, GitHub's header", gitopsv1alpha1.ReceiverGitea, headers("X-Hub-Signature-256", "sha256="+sig), ErrUnsigned},
		{"bitbucket server", gitopsv1alpha1.ReceiverBitbucketServer, headers("X-Hub-Signature", "sha256="+sig), nil},
		{"bitbucket server, another token", gitopsv1alpha1.ReceiverBitbucketServer, headers("X-Hub-Signature", "sha256="+wrong), ErrBadSignature},
		{"generic", gitopsv1alpha1.ReceiverGenericHMAC, headers("X-Signature", "sha256="+sig), nil},
		{"generic, another token", gitopsv1alpha1.ReceiverGenericHMAC, headers("X-Signature", "sha256="+wrong), ErrBadSignature},
		{"generic, unsigned", gitopsv1alpha1.ReceiverGenericHMAC, headers(), ErrUnsigned},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.typ, tc.header, testBody, testToken); !errors.Is(err, tc.want) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// A signature of another body does not verify this one.
	if err := Verify(gitopsv1alpha1.ReceiverGitea, headers("X-Gitea-Signature", sig), []byte("Hello, World?"), testToken); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a signature of another body: %v, want ErrBadSignature", err)
	}
}

func TestEventKinds(t *testing.T) {
	for _, tc := range []struct {
		typ    gitopsv1alpha1.ReceiverType
		header http.Header
		want   EventKind
	}{
		{gitopsv1alpha1.ReceiverGitHub, headers("X-GitHub-Event", "push"), EventPush},
		{gitopsv1alpha1.ReceiverGitHub, headers("X-GitHub-Event", "ping"), EventPing},
		{gitopsv1alpha1.ReceiverGitHub, headers("X-GitHub-Event", "pull_request"), EventOther},
		{gitopsv1alpha1.ReceiverGitLab, headers("X-Gitlab-Event", "Push Hook"), EventPush},
		{gitopsv1alpha1.ReceiverGitLab, headers("X-Gitlab-Event", "Tag Push Hook"), EventOther},
		{gitopsv1alpha1.ReceiverGitea, headers("X-Gitea-Event", "push"), EventPush},
		{gitopsv1alpha1.ReceiverGitea, headers("X-Forgejo-Event", "push"), EventPush},
		{gitopsv1alpha1.ReceiverGitea, headers("X-Gitea-Event", "issues"), EventOther},
		{gitopsv1alpha1.ReceiverBitbucketServer, headers("X-Event-Key", "repo:refs_changed"), EventPush},
		{gitopsv1alpha1.ReceiverBitbucketServer, headers("X-Event-Key", "diagnostics:ping"), EventPing},
		{gitopsv1alpha1.ReceiverBitbucketServer, headers("X-Event-Key", "pr:opened"), EventOther},
		{gitopsv1alpha1.ReceiverGenericHMAC, headers(), EventPush},
	} {
		if got := Event(tc.typ, tc.header); got != tc.want {
			t.Errorf("%s %v: %v, want %v", tc.typ, tc.header, got, tc.want)
		}
	}
}

func TestPathDependsOnTokenNameAndNamespace(t *testing.T) {
	base := Path([]byte("t"), "github", "shop")
	if len(base) != len(PathPrefix)+64 || base[:len(PathPrefix)] != PathPrefix {
		t.Fatalf("Path = %q, want /hook/ and 64 hex digits", base)
	}
	for _, other := range []string{
		Path([]byte("u"), "github", "shop"),
		Path([]byte("t"), "gitlab", "shop"),
		Path([]byte("t"), "github", "blog"),
		Path([]byte("tgithub"), "", "shop"), // the parts are not simply joined
	} {
		if other == base {
			t.Errorf("two different Receivers share the path %s", base)
		}
	}
}
