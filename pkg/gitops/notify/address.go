package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// Policy is the notification address policy: egress's default deny ranges (loopback,
// unspecified, link-local, cloud metadata), with the ranges of ferry-apiserver's
// --notification-allowed-cidrs admitted.
func Policy(allowedCIDRs []string) (*egress.Policy, error) {
	p, err := egress.Default(allowedCIDRs...)
	if err != nil {
		return nil, fmt.Errorf("--notification-allowed-cidrs: %w", err)
	}
	return p, nil
}

// specialNames are host names that always mean a denied address, judged as that address so
// that writing them is refused at once rather than at the first send: the name every system
// resolves to loopback, and the cloud metadata services' names.
var specialNames = map[string]netip.Addr{
	"localhost":                netip.MustParseAddr("127.0.0.1"),
	"metadata.google.internal": netip.MustParseAddr("169.254.169.254"),
	"metadata.goog":            netip.MustParseAddr("169.254.169.254"),
	"metadata":                 netip.MustParseAddr("169.254.169.254"),
}

// CheckAddress says why raw may not be an AlertProvider's address, or nil: it must be an http(s)
// URL with a host, no credentials, and a host that is not a literal address (or a name of one)
// policy denies. Names are resolved at each send, where the dial is checked again: a name that
// resolves to a denied address is refused there.
func CheckAddress(raw string, policy *egress.Policy) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be an http or https URL")
	case u.Host == "" || u.Hostname() == "":
		return errors.New("names no host")
	case u.User != nil:
		return errors.New("must not hold credentials: put a token in the Secret of spec.secretRef")
	case u.Fragment != "":
		return errors.New("must have no fragment")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	addr, ok := specialNames[host]
	if !ok && strings.HasSuffix(host, ".localhost") {
		addr, ok = specialNames["localhost"], true
	}
	if !ok {
		if addr, err = netip.ParseAddr(host); err != nil {
			return nil // a name: checked at each dial
		}
	}
	if !policy.Permits(addr) {
		return errors.New("is a loopback, link-local, unspecified or cloud metadata address: refused unless ferry-apiserver's --notification-allowed-cidrs lists it")
	}
	return nil
}
