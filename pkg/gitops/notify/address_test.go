package notify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAddressPolicy: loopback, link-local, unspecified and metadata addresses, in their IPv4 and
// IPv6 forms and by name, are refused, unless --notification-allowed-cidrs lists them.
func TestAddressPolicy(t *testing.T) {
	strict, _ := Policy(nil)
	local, _ := Policy([]string{"127.0.0.0/8"})
	for _, tc := range []struct {
		address      string
		strict, open bool // allowed by default, allowed with 127.0.0.0/8
	}{
		{"https://hooks.slack.com/services/T/B/X", true, true},
		{"https://93.184.216.34/hook", true, true},
		{"http://127.0.0.1:8080/hook", false, true},
		{"http://127.1.2.3/hook", false, true},
		{"http://localhost:9093", false, true},
		{"http://alertmanager.localhost:9093", false, true},
		{"http://[::1]:8080/", false, false},
		{"http://[::ffff:127.0.0.1]/", false, true},
		{"http://0.0.0.0/", false, false},
		{"http://[::]/", false, false},
		{"http://169.254.169.254/latest/meta-data", false, false},
		{"http://169.254.10.1/", false, false},
		{"http://[fe80::1]/", false, false},
		{"http://[fd00:ec2::254]/", false, false},
		{"http://metadata.google.internal/computeMetadata/v1/", false, false},
		{"http://100.100.100.200/", false, false},
		{"ftp://example.com/", false, false},
		{"https://user:pw@example.com/", false, false},
		{"https:///nohost", false, false},
	} {
		if err := CheckAddress(tc.address, strict); (err == nil) != tc.strict {
			t.Errorf("%s by default: %v, want allowed=%v", tc.address, err, tc.strict)
		}
		if err := CheckAddress(tc.address, local); (err == nil) != tc.open {
			t.Errorf("%s with 127.0.0.0/8 allowed: %v, want allowed=%v", tc.address, err, tc.open)
		}
	}
}

// TestANameResolvingToLoopbackIsRefusedAtTheDial: a host name passes the write-time check, but
// the delivery's dial sees the address it resolves to and refuses it without connecting.
func TestANameResolvingToLoopbackIsRefusedAtTheDial(t *testing.T) {
	hits := 0
	sink := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer sink.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(sink.URL, "http://"))
	// localhost.localdomain and friends vary by system; "localhost" resolves to loopback everywhere,
	// and is checked here only at the dial (the Sender does not look at names).
	strict, _ := Policy(nil)
	s := NewSender(strict)
	s.Attempts = 3
	attempts, err := s.Send(context.Background(), Request{URL: "http://localhost:" + port + "/hook", Header: http.Header{}})
	if !errors.Is(err, ErrRefused) || attempts != 1 || hits != 0 {
		t.Errorf("delivery to a name of loopback: %d attempts, %d hits, %v", attempts, hits, err)
	}
	local, _ := Policy([]string{"127.0.0.0/8", "::1/128"})
	if _, err := NewSender(local).Send(context.Background(), Request{URL: "http://localhost:" + port + "/hook", Header: http.Header{}}); err != nil || hits != 1 {
		t.Errorf("with loopback allowed: %v, %d hits", err, hits)
	}
}

// TestAFailingProviderIsRetriedAndItsBodyNotEchoed: 500s are retried up to the attempts, 4xx
// are not, and the error names the status, never the body.
func TestAFailingProviderIsRetriedAndItsBodyNotEchoed(t *testing.T) {
	hits, code := 0, http.StatusInternalServerError
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits++
		w.WriteHeader(code)
		_, _ = w.Write([]byte("secret-internal-detail"))
	}))
	defer sink.Close()
	local, _ := Policy([]string{"127.0.0.0/8"})
	s := NewSender(local)
	s.Backoff = 1
	attempts, err := s.Send(context.Background(), Request{URL: sink.URL, Header: http.Header{}})
	if attempts != DefaultAttempts || hits != DefaultAttempts || err == nil || !strings.Contains(err.Error(), "500") || strings.Contains(err.Error(), "secret-internal-detail") {
		t.Errorf("500: %d attempts, %d hits, %v", attempts, hits, err)
	}
	hits, code = 0, http.StatusUnauthorized
	if attempts, err := s.Send(context.Background(), Request{URL: sink.URL, Header: http.Header{}}); attempts != 1 || hits != 1 || err == nil {
		t.Errorf("401: %d attempts, %d hits, %v", attempts, hits, err)
	}
}
