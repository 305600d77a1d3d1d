package localstack

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

// pkiFiles are the files ensurePKI writes; when one is missing, all are made anew.
var pkiFiles = []string{"ca.crt", "ca.key", "kube-apiserver.crt", "kube-apiserver.key",
	"front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-client.crt", "front-proxy-client.key",
	"sa.key", "sa.pub", "ferry-ca.crt", "ferry-ca.key", "ferry-apiserver.crt", "ferry-apiserver.key",
	"admin.crt", "admin.key"}

// certValidity is long because a development stack's certificates are kept across restarts.
const certValidity = 10 * 365 * 24 * time.Hour

// ensurePKI writes the certificates and keys of a stack into dir, or keeps those already there.
// It reports whether it made new ones.
func ensurePKI(dir string) (bool, error) {
	complete := true
	for _, f := range pkiFiles {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			complete = false
			break
		}
	}
	if complete {
		return false, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	p := pki{dir: dir}
	// The cluster CA signs kube-apiserver's serving certificate and client certificates.
	ca := p.ca("ca", "ferry-dev-cluster-ca")
	p.leaf("kube-apiserver", ca, leaf{cn: "kube-apiserver", server: true,
		dns: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)}})
	// The aggregator's identity towards ferry-apiserver (requestheader authentication).
	frontProxy := p.ca("front-proxy-ca", "ferry-dev-front-proxy-ca")
	p.leaf("front-proxy-client", frontProxy, leaf{cn: "front-proxy-client"})
	// ServiceAccount token signing.
	p.serviceAccountKey()
	// Ferry's own CA, given to the APIService as caBundle; the aggregator verifies the serving
	// certificate against ferry-apiserver.ferry-system.svc.
	ferry := p.ca("ferry-ca", "ferry-dev-ferry-ca")
	p.leaf("ferry-apiserver", ferry, leaf{cn: "ferry-apiserver.ferry-system.svc", server: true,
		dns: []string{"ferry-apiserver.ferry-system.svc", "ferry-apiserver.ferry-system.svc.cluster.local", "localhost"},
		ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	// kube-controller-manager's identity.
	p.leaf("admin", ca, leaf{cn: "ferry-dev-admin", orgs: []string{"system:masters"}})
	return true, p.err
}

// pki writes one stack's certificates; the first error stops the rest and is kept in err.
type pki struct {
	dir string
	err error
}

type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

type leaf struct {
	cn     string
	orgs   []string
	server bool
	dns    []string
	ips    []net.IP
}

func (p *pki) key(name string) crypto.Signer {
	if p.err != nil {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.err = err
		return nil
	}
	data, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err == nil {
		err = keyutil.WriteKey(filepath.Join(p.dir, name+".key"), data)
	}
	if err != nil {
		p.err = fmt.Errorf("writing %s.key: %w", name, err)
	}
	return key
}

func (p *pki) ca(name, cn string) authority {
	key := p.key(name)
	if p.err != nil {
		return authority{}
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: cn}, key)
	if err == nil {
		err = certutil.WriteCert(filepath.Join(p.dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: cert.Raw}))
	}
	if err != nil {
		p.err = fmt.Errorf("making CA %s: %w", name, err)
	}
	return authority{cert: cert, key: key}
}

func (p *pki) leaf(name string, ca authority, l leaf) {
	key := p.key(name)
	if p.err != nil {
		return
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		p.err = err
		return
	}
	usage := x509.ExtKeyUsageClientAuth
	if l.server {
		usage = x509.ExtKeyUsageServerAuth
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: l.cn, Organization: l.orgs},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		DNSNames:              l.dns,
		IPAddresses:           l.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err == nil {
		err = certutil.WriteCert(filepath.Join(p.dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: der}))
	}
	if err != nil {
		p.err = fmt.Errorf("making certificate %s: %w", name, err)
	}
}

func (p *pki) serviceAccountKey() {
	key := p.key("sa")
	if p.err != nil {
		return
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err == nil {
		err = os.WriteFile(filepath.Join(p.dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
	}
	if err != nil {
		p.err = fmt.Errorf("writing sa.pub: %w", err)
	}
}
