package localstack

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"

	certutil "k8s.io/client-go/util/cert"
)

// The stack's etcd is set up as a production one is: it serves TLS and takes only clients that
// present a certificate its own CA signed (kube-apiserver and ferry-apiserver each have one).
// ferry-apiserver refuses a plaintext etcd, so a test that runs a replica on the stack's etcd,
// or an etcd cluster of its own, takes its flags from here.

// EtcdURL is the client URL of the stack's etcd.
func (s *Stack) EtcdURL() string { return "https://127.0.0.1:" + s.Env["ETCD_PORT"] }

// FerryEtcdFlags point a ferry-apiserver at etcd over TLS with Ferry's client certificate: at
// servers (members started with EtcdMemberTLSFlags), else at the stack's etcd.
func (s *Stack) FerryEtcdFlags(servers ...string) []string {
	if len(servers) == 0 {
		servers = []string{s.EtcdURL()}
	}
	ca, cert, key := s.FerryEtcdClientFiles()
	return []string{"--etcd-servers=" + strings.Join(servers, ","), "--etcd-cafile=" + ca, "--etcd-certfile=" + cert, "--etcd-keyfile=" + key}
}

// FerryEtcdClientFiles are the PEM files of the stack's etcd CA and of Ferry's client
// certificate and key, as kubectl ferry install --etcd-ca-file, --etcd-cert-file and
// --etcd-key-file take them.
func (s *Stack) FerryEtcdClientFiles() (caFile, certFile, keyFile string) {
	l := s.layout
	return l.PKI("etcd-ca.crt"), l.PKI("ferry-etcd-client.crt"), l.PKI("ferry-etcd-client.key")
}

// EtcdMemberTLSFlags are the flags of an etcd member that serves its clients on https://127.0.0.1
// as the stack's etcd does (same certificate, same client CA). Peer traffic is not covered.
func (s *Stack) EtcdMemberTLSFlags() []string {
	l := s.layout
	return []string{"--cert-file", l.PKI("etcd-server.crt"), "--key-file", l.PKI("etcd-server.key"),
		"--client-cert-auth", "--trusted-ca-file", l.PKI("etcd-ca.crt")}
}

// EtcdHealthy is a probe of an etcd member of the stack's CA: GET url/health succeeds.
func (s *Stack) EtcdHealthy(url string) func(context.Context) error {
	client, err := s.EtcdHTTPClient()
	if err != nil {
		return func(context.Context) error { return err }
	}
	return getOK(client, url+"/health", "")
}

// EtcdHTTPClient reaches the HTTP endpoints (/health, /metrics) of etcd members of the stack's
// CA, presenting the stack's own client certificate.
func (s *Stack) EtcdHTTPClient() (*http.Client, error) {
	l := s.layout
	pool, err := certutil.NewPool(l.PKI("etcd-ca.crt"))
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(l.PKI("kube-apiserver-etcd-client.crt"), l.PKI("kube-apiserver-etcd-client.key"))
	if err != nil {
		return nil, fmt.Errorf("the stack's etcd client certificate: %w", err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{cert}}}}, nil
}
