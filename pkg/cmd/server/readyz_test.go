package server

import (
	"crypto/x509"
	"net/http/httptest"
	"testing"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	certutil "k8s.io/client-go/util/cert"
)

// loadingCA is a front-proxy CA provider whose content arrives later, as the ConfigMap-backed
// one's does after its informer syncs.
type loadingCA struct {
	dynamiccertificates.CAContentProvider
	loaded bool
}

func (c *loadingCA) Name() string {
	return "client-ca::kube-system::extension-apiserver-authentication::requestheader-client-ca-file"
}

func (c *loadingCA) VerifyOptions() (x509.VerifyOptions, bool) {
	return x509.VerifyOptions{}, c.loaded
}

// TestNotReadyUntilTheFrontProxyCAIsLoaded: /readyz fails while the aggregator's client
// certificate cannot be verified yet, and passes once it can.
func TestNotReadyUntilTheFrontProxyCAIsLoaded(t *testing.T) {
	ca := &loadingCA{}
	check := frontProxyCACheck(ca)
	req := httptest.NewRequest("GET", "/readyz", nil)
	if err := check.Check(req); err == nil {
		t.Fatal("ready before the front-proxy CA is loaded: proxied requests would be served as system:anonymous")
	}
	ca.loaded = true
	if err := check.Check(req); err != nil {
		t.Fatalf("not ready once the CA is loaded: %v", err)
	}

	// The real provider, loaded from a bundle, passes.
	certPEM, _, err := certutil.GenerateSelfSignedCertKey("front-proxy-ca", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	static, err := dynamiccertificates.NewStaticCAContent("front-proxy", certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if err := frontProxyCACheck(static).Check(req); err != nil {
		t.Fatalf("a loaded CA bundle: %v", err)
	}
}
