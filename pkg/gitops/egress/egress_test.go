package egress_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/testing/counting"
)

// TestThePolicyDeniesTheDefaultRangesAndAllowWins: loopback, link-local and the metadata
// addresses are denied by default, in IPv4, IPv6 and IPv4-in-IPv6 spellings; an allow range
// wins over a deny range; everything else passes.
func TestThePolicyDeniesTheDefaultRangesAndAllowWins(t *testing.T) {
	p, err := egress.Default("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1":        true, // allowed
		"::ffff:127.0.0.1": true,
		"127.0.0.2":        false,
		"::ffff:127.0.0.2": false,
		"::1":              false,
		"0.0.0.0":          false,
		"::":               false,
		"169.254.169.254":  false,
		"169.254.10.1":     false,
		"fd00:ec2::254":    false,
		"fe80::1%eth0":     false,
		"100.100.100.200":  false,
		"10.0.0.1":         true,
		"192.168.1.1":      true,
		"140.82.112.3":     true,
		"2606:4700::1111":  true,
	} {
		if got := p.Permits(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Permits(%s) = %v, want %v", addr, got, want)
		}
	}

	custom, err := egress.New([]string{"10.0.0.0/8", "fd00::/8", "192.0.2.7"}, []string{"10.1.2.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{"10.9.9.9": false, "10.1.2.3": true, "fd12::1": false, "192.0.2.7": false, "192.0.2.8": true, "127.0.0.1": true} {
		if got := custom.Permits(netip.MustParseAddr(addr)); got != want {
			t.Errorf("custom Permits(%s) = %v, want %v", addr, got, want)
		}
	}
	if _, err := egress.New([]string{"10.0.0.0/33"}, nil); err == nil || !strings.Contains(err.Error(), "10.0.0.0/33") {
		t.Errorf("a malformed CIDR: %v, want an error naming it", err)
	}
}

// TestTransportRefusesADeniedAddressAtEveryHop: a request to a denied address, to a name that
// resolves to one (localhost), or redirected to one by an allowed server never reaches it, and
// the error says the policy refused it without naming the address or quoting anything.
func TestTransportRefusesADeniedAddressAtEveryHop(t *testing.T) {
	denied := counting.NewServer(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("internal secret"))
	})
	allowed := counting.NewServer(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, denied.URL+"/admin/delete?id=1", http.StatusFound)
	})
	p, err := egress.Default("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: p.Transport()}
	// With loopback denied altogether, localhost is a name that resolves to a denied address.
	noLoopback, _ := egress.Default()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(allowed.URL, "http://"))

	for name, c := range map[string]struct {
		client *http.Client
		url    string
	}{
		"a denied address":            {client, denied.URL + "/x"},
		"a redirect to one":           {client, allowed.URL + "/start"},
		"a name that resolves to one": {&http.Client{Transport: noLoopback.Transport()}, "http://localhost:" + port + "/x"},
	} {
		resp, err := c.client.Get(c.url)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: got HTTP %d, want refused", name, resp.StatusCode)
			continue
		}
		if !errors.Is(err, egress.ErrRefused) {
			t.Errorf("%s: %v, want ErrRefused", name, err)
		}
		if got := egress.Describe(err); got != "fetch refused by egress policy (--egress-deny-cidrs)" || strings.Contains(got, "127.0.0.2") {
			t.Errorf("%s: described as %q", name, got)
		}
	}
	if n := denied.Requests(); n != 0 {
		t.Errorf("the denied server got %d requests, want 0", n)
	}
	if n := allowed.Requests(); n != 1 {
		t.Errorf("the allowed server got %d requests, want the 1 that redirected", n)
	}

	// The same server, allowed, is reached: the refusal was the policy's, not the network's.
	open, _ := egress.New(nil, nil)
	resp, err := (&http.Client{Transport: open.Transport()}).Get(denied.URL)
	if err != nil {
		t.Fatalf("with no deny range: %v", err)
	}
	resp.Body.Close()
	if n := denied.Requests(); n != 1 {
		t.Errorf("the server got %d requests with no deny range, want 1", n)
	}
}

// TestResolvePicksAPermittedAddress: for protocols connected to by address, a name is resolved
// once and only a permitted address comes back.
func TestResolvePicksAPermittedAddress(t *testing.T) {
	p, _ := egress.Default()
	if _, err := p.Resolve(context.Background(), "localhost"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("localhost: %v, want ErrRefused", err)
	}
	if _, err := p.Resolve(context.Background(), "169.254.169.254"); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("the metadata address: %v, want ErrRefused", err)
	}
	if a, err := p.Resolve(context.Background(), "192.0.2.1"); err != nil || a.String() != "192.0.2.1" {
		t.Errorf("a permitted address: %v, %v", a, err)
	}
	allowLoopback, _ := egress.Default("127.0.0.0/8", "::1")
	if a, err := allowLoopback.Resolve(context.Background(), "localhost"); err != nil || !a.IsLoopback() {
		t.Errorf("localhost with loopback allowed: %v, %v", a, err)
	}
}
