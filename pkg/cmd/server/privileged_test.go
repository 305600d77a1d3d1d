package server

import (
	"io"
	"strings"
	"testing"
)

// TestPrivilegedApplicationsActAsTheAdminServiceAccountByDefault: with no flag, Applications of
// the privileged namespaces act as ferry-system/ferry-admin (which the installation binds to
// cluster-admin), not as Ferry itself; a malformed value is refused naming the flag.
func TestPrivilegedApplicationsActAsTheAdminServiceAccountByDefault(t *testing.T) {
	o := NewOptions(io.Discard, io.Discard)
	if got, err := o.privilegedUser(); err != nil || got != "system:serviceaccount:ferry-system:ferry-admin" {
		t.Errorf("default: %q, %v; want system:serviceaccount:ferry-system:ferry-admin", got, err)
	}
	if err := validateFlags(t, "--privileged-service-account=ferry-admin"); err == nil || !strings.Contains(err.Error(), "--privileged-service-account") {
		t.Errorf("a value without a namespace: %v, want an error naming the flag", err)
	}
}
