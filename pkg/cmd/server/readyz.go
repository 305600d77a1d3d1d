package server

import (
	"fmt"
	"net/http"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/apiserver/pkg/server/healthz"
)

// addFrontProxyCAReadyz keeps /readyz failing until the front-proxy client CA (from
// kube-system/extension-apiserver-authentication) is loaded.
//
// k8s.io/apiserver loads that CA with an informer it starts only once the server serves, and
// nothing in /readyz waits for it. Until then the aggregator's client certificate is not
// recognised, anonymous authentication is always on for a delegating server, and every proxied
// request is refused as system:anonymous: a restarted ferry-apiserver that reports ready at once
// answers its first requests with 403s. Readiness is what the aggregator, a Service and a
// rolling update wait for, so it must include the CA.
func addFrontProxyCAReadyz(cfg *genericapiserver.RecommendedConfig) {
	rh := cfg.Authentication.RequestHeaderConfig
	if rh == nil || rh.CAContentProvider == nil {
		return
	}
	cfg.AddReadyzChecks(frontProxyCACheck(rh.CAContentProvider))
}

func frontProxyCACheck(ca dynamiccertificates.CAContentProvider) healthz.HealthChecker {
	return healthz.NamedCheck("requestheader-client-ca", func(*http.Request) error {
		if _, ok := ca.VerifyOptions(); !ok {
			return fmt.Errorf("the front-proxy client CA %s is not loaded yet", ca.Name())
		}
		return nil
	})
}
