// Package pki makes the small certificate authorities Ferry needs on one machine: the local
// control plane's (tests, make dev-up) and the embedded etcd's mutual TLS. Keys are ECDSA P-256,
// written owner-only with client-go's keyutil; certificates come from client-go's util/cert.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// validity is long: the local stack keeps its certificates across restarts.
const validity = 10 * 365 * 24 * time.Hour

// Backdate is how far before its making a certificate (CA or leaf) becomes valid, as kubeadm's
// and client-go's self-signed helpers do. A certificate valid only from the second it was made
// fails verification on a machine whose clock is behind the signer's by any amount: another
// node, a container started with a skewed clock, or the same process reading time.Now just
// before the certificate's whole-second NotBefore.
const Backdate = time.Hour

// Authority is a CA that signs certificates.
type Authority struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Leaf describes a certificate to issue.
type Leaf struct {
	CommonName    string
	Organizations []string
	Usages        []x509.ExtKeyUsage
	DNSNames      []string
	IPs           []net.IP
}

// NewKey makes a key and writes it to keyFile (mode 0600).
func NewKey(keyFile string) (crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	data, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err == nil {
		err = keyutil.WriteKey(keyFile, data)
	}
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", keyFile, err)
	}
	return key, nil
}

// NewAuthority makes a self-signed CA and writes its certificate and key.
func NewAuthority(commonName, certFile, keyFile string) (Authority, error) {
	key, err := NewKey(keyFile)
	if err != nil {
		return Authority{}, err
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: commonName, NotBefore: time.Now().Add(-Backdate)}, key)
	if err == nil {
		err = writeCert(certFile, cert.Raw)
	}
	if err != nil {
		return Authority{}, fmt.Errorf("making CA %s: %w", commonName, err)
	}
	return Authority{Cert: cert, Key: key}, nil
}

// Issue makes a key and a certificate signed by the CA and writes both.
func (a Authority) Issue(l Leaf, certFile, keyFile string) error {
	key, err := NewKey(keyFile)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: l.CommonName, Organization: l.Organizations},
		NotBefore:             now.Add(-Backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           l.Usages,
		BasicConstraintsValid: true,
		DNSNames:              l.DNSNames,
		IPAddresses:           l.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.Cert, key.Public(), a.Key)
	if err == nil {
		err = writeCert(certFile, der)
	}
	if err != nil {
		return fmt.Errorf("making the certificate of %s: %w", l.CommonName, err)
	}
	return nil
}

func writeCert(path string, der []byte) error {
	return certutil.WriteCert(path, pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: der}))
}
