package embeddedetcd

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"

	"github.com/ferry-gitops/ferry/pkg/pki"
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
	ca, err := pki.NewAuthority("ferry-embedded-etcd-ca", c.CAFile, filepath.Join(dir, "ca.key"))
	if err != nil {
		return c, err
	}
	// etcd's certificate serves clients and identifies it to its peer port.
	local := pki.Leaf{DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}
	server, client := local, local
	server.CommonName, server.Usages = "ferry-embedded-etcd", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	client.CommonName, client.Usages = "ferry-apiserver", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if err := ca.Issue(server, c.ServerCertFile, c.ServerKeyFile); err != nil {
		return c, err
	}
	return c, ca.Issue(client, c.ClientCertFile, c.ClientKeyFile)
}
