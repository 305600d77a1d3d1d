package charts

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// Keys of the Secret named by spec.source.credentialsRef for a chart repository: basic auth
// (username, password), a bearer token, a client certificate (tls.crt, tls.key), and the CA
// bundle that signed the repository's serving certificate (ca.crt), in Flux's and Helm's terms.
const (
	KeyUsername    = "username"
	KeyPassword    = "password"
	KeyBearerToken = "bearerToken"
	KeyTLSCert     = "tls.crt"
	KeyTLSKey      = "tls.key"
	KeyCA          = "ca.crt"
)

// Credentials authenticate to a Helm repository or an OCI registry, and say whom to trust.
type Credentials struct {
	Username, Password, BearerToken string
	// Certificate is the client certificate presented, if any.
	Certificate *tls.Certificate
	// CAs verify the repository's certificate in place of the system's roots.
	CAs *x509.CertPool
	// PassCredentials sends the username, password or token to every host a chart comes from
	// (an index may point at archives elsewhere), as Helm's --pass-credentials; otherwise only
	// the repository's own host gets them.
	PassCredentials bool

	// id keys caches: a hash of the Secret's data, so that no two sets of credentials share a
	// listing.
	id string
}

// CredentialsFromSecretData reads chart repository credentials from a Secret's data. key keys
// the hash that tells credentials apart in the caches. Errors name keys, never values.
func CredentialsFromSecretData(data map[string][]byte, key []byte) (*Credentials, error) {
	c := &Credentials{Username: string(data[KeyUsername]), Password: string(data[KeyPassword]), BearerToken: string(data[KeyBearerToken])}
	cert, certKey, ca := data[KeyTLSCert], data[KeyTLSKey], data[KeyCA]
	if c.Password == "" && c.BearerToken == "" && len(cert) == 0 && len(ca) == 0 {
		return nil, fmt.Errorf("the Secret has none of the keys %s, %s, %s or %s", KeyPassword, KeyBearerToken, KeyTLSCert, KeyCA)
	}
	if len(cert) > 0 || len(certKey) > 0 {
		pair, err := tls.X509KeyPair(cert, certKey)
		if err != nil {
			return nil, fmt.Errorf("the Secret's %s and %s are not a PEM certificate and its private key", KeyTLSCert, KeyTLSKey)
		}
		c.Certificate = &pair
	}
	if len(ca) > 0 {
		c.CAs = x509.NewCertPool()
		if !c.CAs.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("the Secret's %s holds no PEM certificate", KeyCA)
		}
	}
	mac := hmac.New(sha256.New, key)
	for _, k := range []string{KeyUsername, KeyPassword, KeyBearerToken, KeyTLSCert, KeyTLSKey, KeyCA} {
		fmt.Fprintf(mac, "%s=%d:", k, len(data[k]))
		mac.Write(data[k])
	}
	c.id = hex.EncodeToString(mac.Sum(nil))
	return c, nil
}

// cacheID is what tells these credentials apart in cache keys; "" for none.
func (c *Credentials) cacheID() string {
	if c == nil {
		return ""
	}
	if c.PassCredentials {
		return c.id + "+pass"
	}
	return c.id
}

// authorize adds the credentials to a request to u, when u is on the repository's host or they
// are passed to every host.
func (c *Credentials) authorize(req *http.Request, repoHost string) {
	if c == nil || (req.URL.Host != repoHost && !c.PassCredentials) {
		return
	}
	switch {
	case c.BearerToken != "":
		req.Header.Set("Authorization", "Bearer "+c.BearerToken)
	case c.Password != "":
		req.SetBasicAuth(c.Username, c.Password)
	}
}

// transport is the HTTP transport for these credentials, under the egress policy p: the
// environment's proxy, as for Git; the Secret's CA in place of the system's, and its client
// certificate.
func (c *Credentials) transport(p *egress.Policy) http.RoundTripper {
	t := p.Transport()
	if c != nil && (c.Certificate != nil || c.CAs != nil) {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.CAs}
		if c.Certificate != nil {
			t.TLSClientConfig.Certificates = []tls.Certificate{*c.Certificate}
		}
	}
	return t
}

// ErrUnauthorized is a repository that refused the request's credentials, or asked for some.
var ErrUnauthorized = errors.New("the repository refused access")

// hostOf is the host[:port] of a repository URL (oci:// included).
func hostOf(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil {
		return ""
	}
	return u.Host
}
