// Package egress is the policy every fetch ferry-apiserver makes for an Application goes
// through: Git (http, https, ssh, git), Helm repositories, OCI registries and a chart's
// dependencies. A Policy denies connections to address ranges (loopback, link-local, cloud
// metadata services by default) unless an allow range admits them.
//
// The check is made where the connection is made, on the address about to be connected to
// (net.Dialer's Control), not on a URL: a host name that resolves to a denied address (DNS
// rebinding included), a redirect to one, or a second connection of a keep-alive pool are all
// checked, because each of them is a dial.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// DefaultDenyCIDRs are the ranges a fetch may not reach unless --egress-allow-cidrs admits them:
// this host and pod (loopback, unspecified, 0.0.0.0/8), link-local (where cloud metadata
// services answer: 169.254.169.254 on AWS, GCP and Azure, fd00:ec2::254 on AWS over IPv6), and
// Alibaba Cloud's metadata address.
var DefaultDenyCIDRs = []string{
	"127.0.0.0/8", "::1/128",
	"0.0.0.0/8", "::/128",
	"169.254.0.0/16", "fe80::/10",
	"169.254.169.254/32", "fd00:ec2::254/128",
	"100.100.100.200/32",
}

// ErrRefused is a connection the policy did not let this process open. Its text is all an error
// says of it: the address refused is not named (it may be the resolution of a host a tenant
// chose), and no connection was attempted, so nothing is known of the host's state.
var ErrRefused = errors.New("fetch refused by egress policy (--egress-deny-cidrs)")

// Policy says which addresses a fetch may connect to. A nil *Policy admits every address.
type Policy struct {
	deny, allow []netip.Prefix
}

// New parses deny and allow, each a list of CIDRs or single addresses (IPv4 or IPv6). An
// address in an allow range is admitted even when a deny range holds it too.
func New(deny, allow []string) (*Policy, error) {
	p := &Policy{}
	var err error
	if p.deny, err = parsePrefixes(deny); err != nil {
		return nil, fmt.Errorf("egress deny list: %w", err)
	}
	if p.allow, err = parsePrefixes(allow); err != nil {
		return nil, fmt.Errorf("egress allow list: %w", err)
	}
	return p, nil
}

// Default is the policy of DefaultDenyCIDRs with the allow ranges given.
func Default(allow ...string) (*Policy, error) { return New(DefaultDenyCIDRs, allow) }

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		if s == "" {
			continue
		}
		if pr, err := netip.ParsePrefix(s); err == nil {
			out = append(out, pr.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not a CIDR (10.0.0.0/8, fd00::/8) or an IP address", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Permits says whether a connection to ip is allowed. IPv4 addresses written as IPv6
// (::ffff:127.0.0.1) are judged as IPv4, and a zone (fe80::1%eth0) does not hide an address.
func (p *Policy) Permits(ip netip.Addr) bool {
	if p == nil {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return false
	}
	for _, pr := range p.allow {
		if pr.Contains(ip) {
			return true
		}
	}
	for _, pr := range p.deny {
		if pr.Contains(ip) {
			return false
		}
	}
	return true
}

// Control is a net.Dialer Control function: it refuses a connection to an address the policy
// does not permit, after the name was resolved and before anything is sent. An address that is
// not an IP address (a unix socket) is refused.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	if p == nil {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !p.Permits(ap.Addr()) {
		return ErrRefused
	}
	return nil
}

// Dialer returns a dialer whose connections the policy checks.
func (p *Policy) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: p.Control}
}

// DialContext dials address under the policy.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return p.Dialer().DialContext(ctx, network, address)
}

// Dial dials address under the policy (golang.org/x/net/proxy's Dialer).
func (p *Policy) Dial(network, address string) (net.Conn, error) {
	return p.DialContext(context.Background(), network, address)
}

// Transport returns an HTTP transport (http.DefaultTransport's settings) whose every connection,
// a redirect's included, the policy checks.
//
// With a proxy from the environment (HTTPS_PROXY, HTTP_PROXY) the proxy makes the connection to
// the host, so the policy can check only the proxy's address at the dial. The host's addresses
// are then checked as this process resolves them before the request goes to the proxy; the
// proxy's own rules decide the rest.
func (p *Policy) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = p.DialContext
	t.Proxy = p.proxy
	return t
}

// proxy is http.ProxyFromEnvironment, after checking the addresses of the request's host.
func (p *Policy) proxy(req *http.Request) (*url.URL, error) {
	proxy, err := http.ProxyFromEnvironment(req)
	if err != nil || proxy == nil || p == nil {
		return proxy, err
	}
	if _, err := p.Resolve(req.Context(), req.URL.Hostname()); err != nil {
		return nil, err
	}
	return proxy, nil
}

// Resolve returns an address of host the policy permits, for protocols whose connection this
// process cannot check at the dial (the caller then connects to that address, not to the name).
// It fails with ErrRefused when every address of host is denied.
func (p *Policy) Resolve(ctx context.Context, host string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		if !p.Permits(a) {
			return netip.Addr{}, ErrRefused
		}
		return a.WithZone("").Unmap(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range addrs {
		if p.Permits(a) {
			return a.WithZone("").Unmap(), nil
		}
	}
	return netip.Addr{}, ErrRefused
}

// Describe says in a few words why a fetch failed, for messages read by people who may not
// choose where it went: whether the policy refused it, or the kind of network failure, never an
// address, a URL or anything the remote end said.
func Describe(err error) string {
	var (
		dnsErr *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.Is(err, ErrRefused):
		return ErrRefused.Error()
	case errors.Is(err, context.Canceled):
		return "fetch failed: cancelled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "fetch failed: timed out"
	case errors.As(err, &dnsErr):
		return "fetch failed: the host name did not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "fetch failed: connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "fetch failed: connection reset"
	}
	if isTLS(err) {
		return "fetch failed: TLS handshake or certificate verification failed"
	}
	return "fetch failed: network error"
}

func isTLS(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
		alert    tls.AlertError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &header) || errors.As(err, &alert) ||
		errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
