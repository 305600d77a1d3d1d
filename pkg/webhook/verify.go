// Package webhook is Ferry's webhook listener: a Git host's push, delivered to a Receiver's
// path, refreshes the Applications of the Receiver's namespace that the push concerns. It is the
// one surface of Ferry a request reaches without Kubernetes credentials, so each delivery is
// checked before anything is believed: the path must name a Receiver, the body is bounded, the
// signature (or token) is verified in constant time before the body is parsed, and each Receiver
// is rate-limited.
//
// verify.go checks signatures, payload.go reads each host's push format, match.go decides which
// Applications a push concerns, server.go serves deliveries.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Errors of Verify: a delivery without the header its host signs with, and one whose signature
// or token does not match.
var (
	ErrUnsigned     = errors.New("the delivery carries no signature")
	ErrBadSignature = errors.New("the signature does not match the Receiver's token")
)

// Verify checks that body was signed (or sent with the token, for GitLab) as a host of type typ
// does, with token. Every comparison takes the same time whatever the bytes compared.
func Verify(typ gitopsv1alpha1.ReceiverType, header http.Header, body, token []byte) error {
	switch typ {
	case gitopsv1alpha1.ReceiverGitHub:
		// https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
		return prefixedHMAC(header.Get("X-Hub-Signature-256"), body, token)
	case gitopsv1alpha1.ReceiverGitLab:
		// https://docs.gitlab.com/user/project/integrations/webhooks/#validate-payloads-by-using-a-secret-token
		got := header.Get("X-Gitlab-Token")
		if got == "" {
			return ErrUnsigned
		}
		// Compared as digests, so the time taken does not depend on the lengths either.
		a, b := sha256.Sum256([]byte(got)), sha256.Sum256(token)
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			return ErrBadSignature
		}
		return nil
	case gitopsv1alpha1.ReceiverGitea:
		// Gitea and Forgejo send the same hex HMAC-SHA256 under their own names.
		sig := header.Get("X-Gitea-Signature")
		if sig == "" {
			sig = header.Get("X-Forgejo-Signature")
		}
		if sig == "" {
			return ErrUnsigned
		}
		return equalHMAC(sig, body, token)
	case gitopsv1alpha1.ReceiverBitbucketServer:
		// https://confluence.atlassian.com/bitbucketserver/managing-webhooks-in-bitbucket-server-938025878.html
		return prefixedHMAC(header.Get("X-Hub-Signature"), body, token)
	case gitopsv1alpha1.ReceiverGenericHMAC:
		return prefixedHMAC(header.Get("X-Signature"), body, token)
	}
	return ErrBadSignature
}

// prefixedHMAC checks a "sha256=<hex>" signature.
func prefixedHMAC(sig string, body, token []byte) error {
	if sig == "" {
		return ErrUnsigned
	}
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return ErrBadSignature
	}
	return equalHMAC(hexSig, body, token)
}

// equalHMAC checks a hex HMAC-SHA256 of body with token.
func equalHMAC(hexSig string, body, token []byte) error {
	got, err := hex.DecodeString(strings.TrimSpace(hexSig))
	if err != nil {
		return ErrBadSignature
	}
	mac := hmac.New(sha256.New, token)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// EventKind is what a delivery announces.
type EventKind int

const (
	// EventOther is any event but a push or a ping: answered 202 and ignored.
	EventOther EventKind = iota
	// EventPing is the host's test delivery: answered 200.
	EventPing
	// EventPush is a push of one or more commits.
	EventPush
)

// Event reads from the headers what a host of type typ says the delivery is.
func Event(typ gitopsv1alpha1.ReceiverType, header http.Header) EventKind {
	switch typ {
	case gitopsv1alpha1.ReceiverGitHub:
		switch header.Get("X-GitHub-Event") {
		case "push":
			return EventPush
		case "ping":
			return EventPing
		}
	case gitopsv1alpha1.ReceiverGitLab:
		// GitLab's test button sends a real "Push Hook" payload; there is no ping.
		if header.Get("X-Gitlab-Event") == "Push Hook" {
			return EventPush
		}
	case gitopsv1alpha1.ReceiverGitea:
		ev := header.Get("X-Gitea-Event")
		if ev == "" {
			ev = header.Get("X-Forgejo-Event")
		}
		if ev == "push" {
			return EventPush
		}
	case gitopsv1alpha1.ReceiverBitbucketServer:
		switch header.Get("X-Event-Key") {
		case "repo:refs_changed":
			return EventPush
		case "diagnostics:ping":
			return EventPing
		}
	case gitopsv1alpha1.ReceiverGenericHMAC:
		switch header.Get("X-Event") {
		case "", "push":
			return EventPush
		case "ping":
			return EventPing
		}
	}
	return EventOther
}

// Path is a Receiver's webhook path: /hook/ and the hex SHA-256 of its token, name and
// namespace, each length-prefixed so that no two triples give the same input. Unguessable
// without the token, and changed by a new token.
func Path(token []byte, name, namespace string) string {
	h := sha256.New()
	for _, part := range [][]byte{token, []byte(name), []byte(namespace)} {
		var n [8]byte
		for i, l := 0, uint64(len(part)); i < 8; i++ {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(part)
	}
	return PathPrefix + hex.EncodeToString(h.Sum(nil))
}

// PathPrefix starts every Receiver's path.
const PathPrefix = "/hook/"
