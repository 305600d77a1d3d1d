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
