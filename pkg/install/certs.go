package install

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-gitops/ferry/pkg/pki"
)

// ServingCert is the server's serving certificate and key, and the CA that signed it, which the
// APIService's caBundle holds (PEM).
type ServingCert struct {
	CA, Cert, Key []byte
}

// ServiceDNSName is the name kube-apiserver verifies the server's certificate against: the
// APIService's Service.
const ServiceDNSName = ServerName + "." + Namespace + ".svc"

// renewBefore is how long before expiry an installation's certificate is replaced rather than
// kept.
const renewBefore = 90 * 24 * time.Hour

// NewServingCert makes a CA of this installation's own and a serving certificate it signs for the
// server's Service. No other component trusts the CA: it only lets kube-apiserver verify Ferry.
func NewServingCert() (ServingCert, error) {
	dir, err := os.MkdirTemp("", "ferry-install-pki-")
	if err != nil {
		return ServingCert{}, err
	}
	defer os.RemoveAll(dir)
	p := func(name string) string { return filepath.Join(dir, name) }
	ca, err := pki.NewAuthority("ferry-apiserver-ca", p("ca.crt"), p("ca.key"))
	if err != nil {
		return ServingCert{}, err
	}
	leaf := pki.Leaf{
		CommonName: ServiceDNSName,
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:   []string{ServerName, ServerName + "." + Namespace, ServiceDNSName, ServiceDNSName + ".cluster.local"},
	}
	if err := ca.Issue(leaf, p("tls.crt"), p("tls.key")); err != nil {
		return ServingCert{}, err
	}
	var out ServingCert
	for name, into := range map[string]*[]byte{"ca.crt": &out.CA, "tls.crt": &out.Cert, "tls.key": &out.Key} {
		if *into, err = os.ReadFile(p(name)); err != nil {
			return ServingCert{}, err
		}
	}
	return out, nil
}

// ServingCertFromSecret returns the certificate an earlier installation stored in the Secret
// ferry-apiserver-tls, if it is still good to keep: complete, for the Service, signed by its CA
// and valid for more than 90 days. Re-running install keeps it, so an upgrade does not make
// kube-apiserver distrust the running server.
func ServingCertFromSecret(data map[string][]byte, now time.Time) (ServingCert, error) {
	sc := ServingCert{CA: data["ca.crt"], Cert: data["tls.crt"], Key: data["tls.key"]}
	if len(sc.CA) == 0 || len(sc.Cert) == 0 || len(sc.Key) == 0 {
		return ServingCert{}, fmt.Errorf("the Secret lacks ca.crt, tls.crt or tls.key")
	}
	block, _ := pem.Decode(sc.Cert)
	if block == nil {
		return ServingCert{}, fmt.Errorf("tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return ServingCert{}, fmt.Errorf("tls.crt: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sc.CA) {
		return ServingCert{}, fmt.Errorf("ca.crt holds no certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: ServiceDNSName, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return ServingCert{}, fmt.Errorf("tls.crt: %w", err)
	}
	if cert.NotAfter.Before(now.Add(renewBefore)) {
		return ServingCert{}, fmt.Errorf("tls.crt expires %s, within %s", cert.NotAfter.Format(time.DateOnly), renewBefore)
	}
	return sc, nil
}
