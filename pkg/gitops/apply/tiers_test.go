package apply

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestCreationTiers: new objects are created in the order a cluster needs them.
func TestCreationTiers(t *testing.T) {
	obj := func(kind, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetName(name)
		return u
	}
	tiers := creationTiers([]*unstructured.Unstructured{
		obj("Deployment", "web"), obj("Service", "web"), obj("ValidatingWebhookConfiguration", "hook"),
		obj("ConfigMap", "settings"), obj("ServiceAccount", "web"), obj("Job", "migrate"), obj("Secret", "token"),
		obj("RoleBinding", "web"),
	})
	var got []string
	for _, tier := range tiers {
		var names []string
		for _, o := range tier {
			names = append(names, o.GetKind()+"/"+o.GetName())
		}
		got = append(got, strings.Join(names, ","))
	}
	want := "ServiceAccount/web,RoleBinding/web | ConfigMap/settings,Secret/token | Service/web | Deployment/web,Job/migrate | ValidatingWebhookConfiguration/hook"
	if strings.Join(got, " | ") != want {
		t.Errorf("tiers %q, want %q", strings.Join(got, " | "), want)
	}
}
