package server

import (
	"fmt"
	"strings"
)

// validateEtcdServers refuses an external etcd reached in plaintext. etcd holds every
// Application, Cluster and ApplicationSet, and whoever can reach a plaintext client port reads
// and rewrites them all (a Cluster's server, an Application's serviceAccountName) with no
// Kubernetes authorisation in the way. There is no flag to allow it: a test or a laptop runs an
// etcd with TLS as easily (pkg/testing/localstack does), or leaves --etcd-servers empty for the
// embedded etcd, which only Ferry can reach.
func validateEtcdServers(servers []string) []error {
	var errs []error
	for _, s := range servers {
		if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "unixs://") {
			continue
		}
		errs = append(errs, fmt.Errorf("--etcd-servers: %q is not reached over TLS: give https:// URLs with --etcd-cafile, --etcd-certfile and --etcd-keyfile (a client certificate etcd trusts), or no --etcd-servers for the embedded etcd", s))
	}
	return errs
}
