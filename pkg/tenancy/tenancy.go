// Package tenancy says whose power an Application acts with. Every Kubernetes call Ferry makes
// for an Application runs as a ServiceAccount of the Application's own namespace, and whoever
// writes an Application must be allowed to act as that ServiceAccount, so that no Application
// acts with more power than the people who wrote it.
package tenancy

import "k8s.io/apiserver/pkg/authentication/serviceaccount"

// Policy maps an Application to the identity it acts as.
type Policy struct {
	// DefaultServiceAccount is the ServiceAccount of its own namespace an Application that names
	// none acts as; empty makes such Applications act as Ferry itself.
	DefaultServiceAccount string
	// PrivilegedNamespaces hold the Applications of platform admins: there, an Application that
	// names no ServiceAccount acts as PrivilegedUser.
	PrivilegedNamespaces []string
	// PrivilegedUser is the username privileged Applications act as (impersonated, like any
	// other): a ServiceAccount the installation binds to cluster-admin, so that Ferry's own
	// ServiceAccount needs no write permission beyond its own objects. Empty is Ferry itself.
	PrivilegedUser string
}

// ServiceAccount is the name of the ServiceAccount, in namespace, that an Application naming
// named (possibly empty) acts as; empty means a privileged Application (PrivilegedUser).
func (p Policy) ServiceAccount(namespace, named string) string {
	if named != "" {
		return named
	}
	for _, ns := range p.PrivilegedNamespaces {
		if ns == namespace {
			return ""
		}
	}
	return p.DefaultServiceAccount
}

// User is the username Ferry impersonates for an Application in namespace naming named: the
// ServiceAccount's, PrivilegedUser for a privileged Application, empty for Ferry's own identity.
func (p Policy) User(namespace, named string) string {
	sa := p.ServiceAccount(namespace, named)
	if sa == "" {
		return p.PrivilegedUser
	}
	return serviceaccount.MakeUsername(namespace, sa)
}
