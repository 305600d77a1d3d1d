package server

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// privilegedUser is the username of --privileged-service-account, which Applications of
// --privileged-namespaces naming no ServiceAccount act as; empty for Ferry's own identity.
// Ferry's own ServiceAccount holds no write permission beyond its own objects: applying what a
// platform admin's Application holds is the admin ServiceAccount's power, impersonated like a
// tenant's.
func (o *Options) privilegedUser() (string, error) {
	if o.PrivilegedServiceAccount == "" {
		return "", nil
	}
	ns, name, ok := strings.Cut(o.PrivilegedServiceAccount, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", fmt.Errorf("--privileged-service-account %q: want namespace/name of a ServiceAccount, such as ferry-system/ferry-admin", o.PrivilegedServiceAccount)
	}
	return serviceaccount.MakeUsername(ns, name), nil
}
