package localstack

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/ferry-gitops/ferry/pkg/pki"
)

// pkiFiles are the files ensurePKI writes; when one is missing, all are made anew.
var pkiFiles = []string{"ca.crt", "ca.key", "kube-apiserver.crt", "kube-apiserver.key",
	"front-proxy-ca.crt", "front-proxy-ca.key", "front-proxy-client.crt", "front-proxy-client.key",
	"sa.key", "sa.pub", "ferry-ca.crt", "ferry-ca.key", "ferry-apiserver.crt", "ferry-apiserver.key",
	"admin.crt", "admin.key", "etcd-ca.crt", "etcd-ca.key", "etcd-server.crt", "etcd-server.key",
	"kube-apiserver-etcd-client.crt", "kube-apiserver-etcd-client.key", "ferry-etcd-client.crt", "ferry-etcd-client.key"}

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
	p := stackPKI{dir: dir}
	// The cluster CA signs kube-apiserver's serving certificate and client certificates.
	ca := p.ca("ca", "ferry-dev-cluster-ca")
	p.leaf("kube-apiserver", ca, pki.Leaf{CommonName: "kube-apiserver", Usages: serverAuth,
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)}})
	// The aggregator's identity towards ferry-apiserver (requestheader authentication).
	frontProxy := p.ca("front-proxy-ca", "ferry-dev-front-proxy-ca")
	p.leaf("front-proxy-client", frontProxy, pki.Leaf{CommonName: "front-proxy-client", Usages: clientAuth})
	// ServiceAccount token signing.
	p.serviceAccountKey()
	// Ferry's own CA, given to the APIService as caBundle; the aggregator verifies the serving
	// certificate against ferry-apiserver.ferry-system.svc.
	ferry := p.ca("ferry-ca", "ferry-dev-ferry-ca")
	p.leaf("ferry-apiserver", ferry, pki.Leaf{CommonName: "ferry-apiserver.ferry-system.svc", Usages: serverAuth,
		DNSNames: []string{"ferry-apiserver.ferry-system.svc", "ferry-apiserver.ferry-system.svc.cluster.local", "localhost"},
		IPs:      []net.IP{net.IPv4(127, 0, 0, 1)}})
	// kube-controller-manager's identity.
	p.leaf("admin", ca, pki.Leaf{CommonName: "ferry-dev-admin", Organizations: []string{"system:masters"}, Usages: clientAuth})
	// etcd's own CA, as kubeadm makes one: etcd serves TLS and takes only the clients it signed
	// (EtcdURL, FerryEtcdFlags). The serving certificate is also etcd's client certificate
	// towards itself (its gRPC gateway), hence both usages.
	etcd := p.ca("etcd-ca", "ferry-dev-etcd-ca")
	p.leaf("etcd-server", etcd, pki.Leaf{CommonName: "etcd", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	p.leaf("kube-apiserver-etcd-client", etcd, pki.Leaf{CommonName: "kube-apiserver-etcd-client", Usages: clientAuth})
	p.leaf("ferry-etcd-client", etcd, pki.Leaf{CommonName: "ferry-etcd-client", Usages: clientAuth})
	return true, p.err
}

// kubeletPKIFiles are the files ensureKubeletPKI writes. They are kept apart from pkiFiles so
// that a stack made before its Node served the kubelet API keeps the rest of its PKI.
var kubeletPKIFiles = []string{"kubelet-ca.crt", "kubelet-ca.key", "kubelet.crt", "kubelet.key",
	"kube-apiserver-kubelet-client.crt", "kube-apiserver-kubelet-client.key"}

// ensureKubeletPKI writes the certificates of the kubelet API (kwok's server) into dir, or keeps
// those already there: its own CA, which kube-apiserver trusts for the kubelet alone
// (--kubelet-certificate-authority), the serving certificate for the Node's address 127.0.0.1,
// and kube-apiserver's client certificate towards it, as kubeadm names them.
func ensureKubeletPKI(dir string) error {
	for _, f := range kubeletPKIFiles {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			p := stackPKI{dir: dir}
			ca := p.ca("kubelet-ca", "ferry-dev-kubelet-ca")
			p.leaf("kubelet", ca, pki.Leaf{CommonName: "system:node:" + NodeName, Organizations: []string{"system:nodes"}, Usages: serverAuth,
				DNSNames: []string{NodeName, "localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
			p.leaf("kube-apiserver-kubelet-client", ca, pki.Leaf{CommonName: "kube-apiserver-kubelet-client", Organizations: []string{"system:masters"}, Usages: clientAuth})
			return p.err
		}
	}
	return nil
}

// stackPKI writes one stack's certificates; the first error stops the rest and is kept in err.
type stackPKI struct {
	dir string
	err error
}

var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
)

func (p *stackPKI) ca(name, cn string) pki.Authority {
	if p.err != nil {
		return pki.Authority{}
	}
	var ca pki.Authority
	ca, p.err = pki.NewAuthority(cn, filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key"))
	return ca
}

func (p *stackPKI) leaf(name string, ca pki.Authority, l pki.Leaf) {
	if p.err != nil {
		return
	}
	p.err = ca.Issue(l, filepath.Join(p.dir, name+".crt"), filepath.Join(p.dir, name+".key"))
}

// serviceAccountKey writes the ServiceAccount token signing key and its public half.
func (p *stackPKI) serviceAccountKey() {
	if p.err != nil {
		return
	}
	key, err := pki.NewKey(filepath.Join(p.dir, "sa.key"))
	if err != nil {
		p.err = err
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
