package source

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// remoteError is a failure of a Git remote told in Ferry's words. What a remote says — an error
// page, an "ERR" line, an ssh server's stderr or disconnect message, a status line's reason —
// never goes into it: those words reach conditions, Events, logs and API responses read by
// people who did not choose the server, and a repoURL can point at any internal service.
// errors.Is and errors.As still see the underlying error.
type remoteError struct {
	msg string
	err error
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// wrapRemoteError says which repository failed, what failed and what the user can do.
func wrapRemoteError(repoURL, doing string, err error) error {
	if errors.Is(err, egress.ErrRefused) {
		// Nothing was sent: the repository's URL (which may be a remote base's, chosen by
		// whoever wrote the kustomization) adds nothing to the refusal.
		return &remoteError{msg: doing + " the repository: " + egress.ErrRefused.Error(), err: err}
	}
	return &remoteError{msg: fmt.Sprintf("%s %s: %s", doing, redactURL(repoURL), describeRemoteError(err)), err: err}
}

// describeRemoteError puts a remote's failure in Ferry's words: the kind of failure, and the
// text of errors this process wrote itself (Go's network, TLS and host key errors), never the
// remote's.
func describeRemoteError(err error) string {
	var (
		httpErr   *githttp.Err
		opErr     *net.OpError
		dnsErr    *net.DNSError
		unknownA  x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		keyErr    *knownhosts.KeyError
	)
	switch {
	case errors.Is(err, egress.ErrRefused):
		// Before any other reading: nothing was sent, so nothing is known of the host.
		return egress.ErrRefused.Error()
	case errors.Is(err, transport.ErrAuthenticationRequired):
		return "authentication required: name a Secret with credentials in spec.source.credentialsRef"
	case errors.Is(err, transport.ErrAuthorizationFailed):
		return "the credentials were refused: check the Secret in spec.source.credentialsRef"
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return "repository not found: check spec.source.repoURL (and, for a private repository, spec.source.credentialsRef)"
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return "the repository is empty: push a commit to it"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out (ferry-apiserver --git-timeout): check that the server answers, or raise the timeout for large repositories"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, errResponseTooLarge):
		return fmt.Sprintf("the server's ref advertisement is larger than %d MiB: refused", maxAdvertisementBytes>>20)
	case errors.As(err, &keyErr):
		if len(keyErr.Want) == 0 {
			return "the server's host key is not in knownHosts of spec.source.credentialsRef: add it (ssh-keyscan)"
		}
		return "the server's host key does not match knownHosts of spec.source.credentialsRef: check that you reach the right server, then update knownHosts"
	case errors.As(err, &unknownA), errors.As(err, &hostErr), errors.As(err, &certErr), errors.As(err, &verifyErr):
		return "TLS: " + innermost(err) + ": check the server's certificate"
	case errors.As(err, &dnsErr):
		return "DNS: " + dnsErr.Error() + ": check the host of spec.source.repoURL"
	case errors.As(err, &opErr):
		return "network: " + opErr.Error() + ": check that the server is up and reachable from ferry-apiserver"
	case errors.As(err, &httpErr):
		return fmt.Sprintf("the server answered HTTP %d: check spec.source.repoURL and the server", httpErr.Response.StatusCode)
	}
	// golang.org/x/crypto/ssh's own words, which do not always wrap their cause.
	switch msg := err.Error(); {
	case strings.Contains(msg, "ssh: unable to authenticate"):
		return "ssh: the key was refused: check sshPrivateKey in spec.source.credentialsRef, and that the server knows its public key"
	case strings.Contains(msg, "knownhosts: key is unknown"):
		return "the server's host key is not in knownHosts of spec.source.credentialsRef: add it (ssh-keyscan)"
	case strings.Contains(msg, "knownhosts: key mismatch"):
		return "the server's host key does not match knownHosts of spec.source.credentialsRef: check that you reach the right server, then update knownHosts"
	}
	return "the server's answer was not a Git repository's, or it refused the request (Ferry does not repeat what a server says): check spec.source.repoURL, and the Git server's logs"
}

// innermost is the text of the innermost wrapped error: for certificate errors, Go's words
// without the URL or the transport's prefixes.
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
