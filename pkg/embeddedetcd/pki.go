package embeddedetcd

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
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// credentials are the files of the embedded etcd's mutual TLS: a CA made at each start, etcd's
// serving certificate (also its peer identity) and the one client certificate, Ferry's. Only a
// process holding Ferry's key, readable by Ferry's user alone, can talk to this etcd.
type credentials struct {
	CAFile, ServerCertFile, ServerKeyFile, ClientCertFile, ClientKeyFile string
}

// newCredentials writes a fresh CA and certificates into dir (mode 0700): nothing outlives a
// restart, so no old key can open the next run's etcd.
func newCredentials(dir string) (credentials, error) {
	if err := os.RemoveAll(dir); err != nil {
		return credentials{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return credentials{}, err
	}
	c := credentials{
		CAFile:         filepath.Join(dir, "ca.crt"),
		ServerCertFile: filepath.Join(dir, "etcd.crt"), ServerKeyFile: filepath.Join(dir, "etcd.key"),
		ClientCertFile: filepath.Join(dir, "ferry.crt"), ClientKeyFile: filepath.Join(dir, "ferry.key"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return c, err
	}
	ca, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: "ferry-embedded-etcd-ca"}, caKey)
	if err != nil {
		return c, err
	}
	if err := certutil.WriteCert(c.CAFile, pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: ca.Raw})); err != nil {
		return c, err
	}
	if err := signed(ca, caKey, "ferry-embedded-etcd", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, c.ServerCertFile, c.ServerKeyFile); err != nil {
		return c, err
	}
	return c, signed(ca, caKey, "ferry-apiserver", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, c.ClientCertFile, c.ClientKeyFile)
}

// signed writes a key and a certificate for 127.0.0.1 and localhost signed by the CA.
func signed(ca *x509.Certificate, caKey crypto.Signer, cn string, usages []x509.ExtKeyUsage, certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: usages, BasicConstraintsValid: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("signing the certificate of %s: %w", cn, err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return err
	}
	return certutil.WriteCert(certFile, pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: der}))
}
