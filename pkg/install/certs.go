package install

import (
	"time"

	"github.com/ferry-gitops/ferry/pkg/servingcert"
)

// ServingCert is the server's serving certificate and key, and the CA the APIService's caBundle
// holds.
type ServingCert = servingcert.Cert

// ServiceDNSName is the name kube-apiserver verifies the server's certificate against: the
// APIService's Service.
var ServiceDNSName = servingcert.DNSName(ServerName, Namespace)

// NewServingCert makes a CA of this installation's own and a serving certificate it signs for the
// server's Service.
func NewServingCert() (ServingCert, error) { return servingcert.New(ServerName, Namespace) }

// ServingCertFromSecret returns the certificate an earlier installation stored in the Secret
// ferry-apiserver-tls, if it is still good to keep (see servingcert.FromSecret). Re-running
// install keeps it.
func ServingCertFromSecret(data map[string][]byte, now time.Time) (ServingCert, error) {
	return servingcert.FromSecret(data, ServerName, Namespace, now)
}
