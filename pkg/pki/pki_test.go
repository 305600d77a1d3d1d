package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// TestIssuedCertificatesVerifyAgainstTheirAuthority: a leaf issued by the CA verifies for its
// name and usage, and its key is readable by the owner only.
func TestIssuedCertificatesVerifyAgainstTheirAuthority(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewAuthority("test-ca", filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	leaf := Leaf{CommonName: "server", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	if err := ca.Issue(leaf, filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")); err != nil {
		t.Fatal(err)
	}
	certs, err := certutil.CertsFromFile(filepath.Join(dir, "s.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots, err := certutil.NewPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the issued certificate does not verify: %v", err)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a server certificate verified as a client's")
	}
	if fi, err := os.Stat(filepath.Join(dir, "s.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

// TestCertificatesAreValidFromBeforeTheyAreMade: the CA and the leaves it issues are valid from
// well before the moment they are made, so a verifier whose clock is behind the signer's (another
// node, or time.Now read just before the certificate's whole-second NotBefore) accepts them.
func TestCertificatesAreValidFromBeforeTheyAreMade(t *testing.T) {
	const margin = 30 * time.Minute
	dir := t.TempDir()
	before := time.Now()
	ca, err := NewAuthority("test-ca", filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Issue(Leaf{CommonName: "server", DNSNames: []string{"server"}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, filepath.Join(dir, "s.crt"), filepath.Join(dir, "s.key")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ca.crt", "s.crt"} {
		certs, err := certutil.CertsFromFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if nb := certs[0].NotBefore; !nb.Before(before.Add(-margin)) {
			t.Errorf("%s: NotBefore %s is not %s before it was made (%s): a verifier with a clock behind would refuse it",
				name, nb.Format(time.RFC3339), margin, before.Format(time.RFC3339))
		}
	}
	roots, err := certutil.NewPool(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := certutil.CertsFromFile(filepath.Join(dir, "s.crt"))
	if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: "server", CurrentTime: before.Add(-time.Minute),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("on a clock one minute behind, the chain does not verify: %v", err)
	}
}
