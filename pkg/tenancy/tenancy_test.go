package tenancy

import "testing"

func TestWhomAnApplicationActsAs(t *testing.T) {
	p := Policy{DefaultServiceAccount: "default", PrivilegedNamespaces: []string{"ferry-system"}}
	cases := []struct {
		namespace, named, want string
	}{
		{"team-a", "deployer", "system:serviceaccount:team-a:deployer"},
		{"team-a", "", "system:serviceaccount:team-a:default"},
		{"ferry-system", "", ""},
		{"ferry-system", "installer", "system:serviceaccount:ferry-system:installer"},
	}
	for _, tc := range cases {
		if got := p.User(tc.namespace, tc.named); got != tc.want {
			t.Errorf("%s naming %q acts as %q, want %q", tc.namespace, tc.named, got, tc.want)
		}
	}
	if got := (Policy{}).User("team-a", ""); got != "" {
		t.Errorf("with no default ServiceAccount an Application naming none acts as %q, want Ferry itself", got)
	}
}

// TestPrivilegedApplicationsActAsTheAdminServiceAccount: with PrivilegedUser set (the install's
// ferry-system/ferry-admin), a privileged Application naming no ServiceAccount is impersonated
// as it, not run as Ferry's own identity; other Applications are unchanged.
func TestPrivilegedApplicationsActAsTheAdminServiceAccount(t *testing.T) {
	p := Policy{DefaultServiceAccount: "default", PrivilegedNamespaces: []string{"ferry-system"},
		PrivilegedUser: "system:serviceaccount:ferry-system:ferry-admin"}
	for _, tc := range []struct{ namespace, named, want string }{
		{"ferry-system", "", "system:serviceaccount:ferry-system:ferry-admin"},
		{"ferry-system", "installer", "system:serviceaccount:ferry-system:installer"},
		{"team-a", "", "system:serviceaccount:team-a:default"},
	} {
		if got := p.User(tc.namespace, tc.named); got != tc.want {
			t.Errorf("%s naming %q acts as %q, want %q", tc.namespace, tc.named, got, tc.want)
		}
	}
}
