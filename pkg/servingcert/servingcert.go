// Package servingcert makes and keeps ferry-apiserver's serving certificate: a CA of the
// installation's own and a certificate it signs for the Service the APIService routes to, so
// kube-apiserver can verify Ferry with the APIService's caBundle. kubectl ferry install makes
// one before applying; a server started with --serving-cert-secret makes (or reuses) one itself
// and sets the caBundle, which is what lets a plain `kubectl apply -f install.yaml` work.
package servingcert

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ferry-gitops/ferry/pkg/pki"
)

// Cert is the server's serving certificate and key, and the CA that signed it, which the
// APIService's caBundle holds (PEM).
type Cert struct {
	CA, Cert, Key []byte
}

// DNSName is the name kube-apiserver verifies the certificate of a Service's server against.
func DNSName(service, namespace string) string { return service + "." + namespace + ".svc" }

// renewBefore is how long before expiry an installation's certificate is replaced rather than
// kept.
const renewBefore = 90 * 24 * time.Hour

// New makes a CA of this installation's own and a serving certificate it signs for the Service
// service in namespace. No other component trusts the CA: it only lets kube-apiserver verify
// Ferry.
func New(service, namespace string) (Cert, error) {
	dir, err := os.MkdirTemp("", "ferry-install-pki-")
	if err != nil {
		return Cert{}, err
	}
	defer os.RemoveAll(dir)
	p := func(name string) string { return filepath.Join(dir, name) }
	ca, err := pki.NewAuthority("ferry-apiserver-ca", p("ca.crt"), p("ca.key"))
	if err != nil {
		return Cert{}, err
	}
	dnsName := DNSName(service, namespace)
	leaf := pki.Leaf{
		CommonName: dnsName,
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:   []string{service, service + "." + namespace, dnsName, dnsName + ".cluster.local"},
	}
	if err := ca.Issue(leaf, p("tls.crt"), p("tls.key")); err != nil {
		return Cert{}, err
	}
	var out Cert
	for name, into := range map[string]*[]byte{"ca.crt": &out.CA, "tls.crt": &out.Cert, "tls.key": &out.Key} {
		if *into, err = os.ReadFile(p(name)); err != nil {
			return Cert{}, err
		}
	}
	return out, nil
}

// FromSecret returns the certificate an earlier installation stored in a Secret's data, if it is
// still good to keep: complete, for the Service service in namespace, signed by its CA and valid
// for more than 90 days. Keeping it means an upgrade does not make kube-apiserver distrust the
// running server.
func FromSecret(data map[string][]byte, service, namespace string, now time.Time) (Cert, error) {
	sc := Cert{CA: data["ca.crt"], Cert: data["tls.crt"], Key: data["tls.key"]}
	if len(sc.CA) == 0 || len(sc.Cert) == 0 || len(sc.Key) == 0 {
		return Cert{}, fmt.Errorf("the Secret lacks ca.crt, tls.crt or tls.key")
	}
	block, _ := pem.Decode(sc.Cert)
	if block == nil {
		return Cert{}, fmt.Errorf("tls.crt is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return Cert{}, fmt.Errorf("tls.crt: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sc.CA) {
		return Cert{}, fmt.Errorf("ca.crt holds no certificate")
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: DNSName(service, namespace), Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return Cert{}, fmt.Errorf("tls.crt: %w", err)
	}
	if cert.NotAfter.Before(now.Add(renewBefore)) {
		return Cert{}, fmt.Errorf("tls.crt expires %s, within %s", cert.NotAfter.Format(time.DateOnly), renewBefore)
	}
	return sc, nil
}
