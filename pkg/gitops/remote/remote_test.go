package remote

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const name = "prod"

func conn(token string, ca []byte) Connection {
	return Connection{Server: "https://prod.example:6443", CAData: ca, Token: token}
}

func TestAChangedTokenOrCABundleGivesANewClientThatWaitsForItsProbe(t *testing.T) {
	r := NewRegistry(5, 10)
	if !r.Set(name, conn("token-a", []byte("ca-1"))) {
		t.Fatal("a new cluster was not reported as a change")
	}
	if _, _, err := r.Config(name); err == nil || !strings.Contains(err.Error(), "not probed yet") {
		t.Errorf("Config before the first probe: %v, want not Ready: not probed yet", err)
	}
	r.SetReady(name, true, "reached")
	first, err := r.Applier(name)
	if err != nil {
		t.Fatal(err)
	}

	if r.Set(name, conn("token-a", []byte("ca-1"))) {
		t.Error("the same connection again was reported as a change")
	}
	if same, err := r.Applier(name); err != nil || same != first {
		t.Errorf("the same connection again replaced the client (%v) or made the cluster unusable (%v)", same != first, err)
	}

	for i, c := range []Connection{conn("token-b", []byte("ca-1")), conn("token-b", []byte("ca-2"))} {
		if !r.Set(name, c) {
			t.Fatalf("change %d: a new connection was not reported as a change", i+1)
		}
		if _, err := r.Applier(name); err == nil || !strings.Contains(err.Error(), "not probed yet") {
			t.Errorf("change %d: Applier before the new connection is probed: %v, want not Ready", i+1, err)
		}
		r.SetReady(name, true, "reached")
		cfg, gen, err := r.Config(name)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.BearerToken != c.Token || string(cfg.CAData) != string(c.CAData) || gen != uint64(i+1) {
			t.Errorf("change %d: config with token %q, CA %q, generation %d; want %q, %q, %d", i+1, cfg.BearerToken, cfg.CAData, gen, c.Token, c.CAData, i+1)
		}
		if a, _ := r.Applier(name); a == first {
			t.Errorf("change %d: the client of the old connection is still handed out", i+1)
		}
	}
}

func TestARemovedClusterIsForgotten(t *testing.T) {
	r := NewRegistry(5, 10)
	r.Set(name, conn("token-a", nil))
	r.SetReady(name, true, "reached")
	if !r.Remove(name) {
		t.Error("removing a known cluster reported it unknown")
	}
	if names := r.Names(); len(names) != 0 {
		t.Errorf("Names %v after removal, want none", names)
	}
	if _, err := r.Applier(name); err == nil || !strings.Contains(err.Error(), `no Cluster "prod" is registered`) {
		t.Errorf("Applier after removal: %v, want no Cluster registered", err)
	}
	if _, _, err := r.Config(name); err == nil {
		t.Error("Config after removal handed out a client")
	}
	if r.Remove(name) {
		t.Error("removing it again reported it known")
	}
}

func TestAnUnusableClusterSaysWhyAndHandsOutNoClient(t *testing.T) {
	r := NewRegistry(5, 10)
	r.Set(name, conn("token-a", nil))
	r.SetReady(name, true, "reached")
	const why = "the Secret ferry-system/prod-creds of spec.credentialsRef does not exist"
	if !r.Unusable(name, why) {
		t.Error("a Ready cluster made unusable was not reported as a change")
	}
	if _, err := r.Applier(name); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Applier: %v, want not Ready because %q", err, why)
	}
	// A Cluster whose credentials never worked is listed, and says why.
	if !r.Unusable("staging", why) {
		t.Error("a new unusable cluster was not reported as a change")
	}
	if names := r.Names(); strings.Join(names, ",") != "prod,staging" {
		t.Errorf("Names %v, want prod and staging", names)
	}
	if _, _, err := r.Config("staging"); err == nil || !strings.Contains(err.Error(), why) {
		t.Errorf("Config of staging: %v, want not Ready because %q", err, why)
	}
	// Never connected, it has nothing to probe with, rather than a configuration of nothing.
	if cfg, ok := r.ProbeConfig("staging"); ok || cfg != nil {
		t.Errorf("ProbeConfig of a cluster never connected: %v, %v; want none", cfg, ok)
	}
}

func TestConnectionForTakesATokenOrACertificateAndQuotesNeither(t *testing.T) {
	spec := gitopsv1alpha1.ClusterSpec{Server: "https://prod.example:6443", CABundle: []byte("ca"), TLSServerName: "api.prod"}
	const tok, crt, key = "t0ken-value", "cert-value", "key-value"
	c, err := ConnectionFor(spec, map[string][]byte{"token": []byte(tok)})
	if err != nil || c.Token != tok || c.Server != spec.Server || string(c.CAData) != "ca" || c.TLSServerName != "api.prod" {
		t.Errorf("a token Secret: %+v, %v", c, err)
	}
	c, err = ConnectionFor(spec, map[string][]byte{"tls.crt": []byte(crt), "tls.key": []byte(key)})
	if err != nil || string(c.CertData) != crt || string(c.KeyData) != key || c.Token != "" {
		t.Errorf("a certificate Secret: %+v, %v", c, err)
	}
	for _, tc := range []struct {
		data map[string][]byte
		want string
	}{
		{map[string][]byte{"token": []byte(tok), "tls.crt": []byte(crt), "tls.key": []byte(key)}, "both a token and a client certificate"},
		{map[string][]byte{"tls.crt": []byte(crt)}, `only one of "tls.crt" and "tls.key"`},
		{map[string][]byte{"tls.key": []byte(key)}, `only one of "tls.crt" and "tls.key"`},
		{map[string][]byte{"ca.crt": []byte("x")}, ErrNoCredentials.Error()},
	} {
		_, err := ConnectionFor(spec, tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Secret with %d keys: %v, want %q", len(tc.data), err, tc.want)
			continue
		}
		for _, v := range []string{tok, crt, key} {
			if strings.Contains(err.Error(), v) {
				t.Errorf("the error quotes the Secret: %v", err)
			}
		}
	}
	if _, err := ConnectionFor(spec, nil); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("an empty Secret: %v, want ErrNoCredentials", err)
	}
}

func TestTheClientOfAClusterIgnoresTheEnvironmentsProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	cfg := conn("token-a", nil).RESTConfig(5, 10)
	if cfg.Proxy == nil {
		t.Fatal("no Proxy function: client-go would use the environment's proxy, and show it Ferry's token")
	}
	req, _ := http.NewRequest(http.MethodGet, "https://prod.example:6443/version", nil)
	if u, err := cfg.Proxy(req); u != nil || err != nil {
		t.Errorf("requests go through %v (%v), want no proxy", u, err)
	}
}

// server answers every request with code and body.
func server(t *testing.T, code int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		_, _ = fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestProbeSaysWhyAClusterIsNotUsableWithoutQuotingItsAnswer(t *testing.T) {
	const body = "internal-detail-of-the-server"
	for _, tc := range []struct {
		code        int
		reason, msg string
	}{
		{http.StatusUnauthorized, gitopsv1alpha1.ReasonClusterUnauthorized, "401 Unauthorized"},
		{http.StatusForbidden, gitopsv1alpha1.ReasonClusterUnauthorized, "403 Forbidden"},
		{http.StatusInternalServerError, gitopsv1alpha1.ReasonClusterUnreachable, "the server answered 500"},
	} {
		cfg := Connection{Server: server(t, tc.code, body), Token: "t0ken-value"}.RESTConfig(5, 10)
		_, reason, err := Probe(t.Context(), cfg, 5*time.Second)
		if err == nil || reason != tc.reason || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("a server answering %d: %s %v, want %s %q", tc.code, reason, err, tc.reason, tc.msg)
			continue
		}
		if strings.Contains(err.Error(), body) || strings.Contains(err.Error(), "t0ken-value") {
			t.Errorf("a server answering %d: the error quotes the answer or the token: %v", tc.code, err)
		}
	}
}
