package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

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
