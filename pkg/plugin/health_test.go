package plugin

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestHealth(t *testing.T) {
	h := newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "health" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationHealth{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"},
			Status:     "Progressing", Message: "Deployment/web: Deployment does not have minimum availability",
			Resources: []gitopsv1alpha1.ResourceHealth{
				{Version: "v1", Kind: "Namespace", Name: "web", Status: "Healthy"},
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web", Status: "Progressing", Message: "Deployment does not have minimum availability"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Status: "Healthy"},
			},
		}, nil
	})
	h.mustRun(0, "health", "web")
	want := `Health: Progressing (Deployment/web: Deployment does not have minimum availability)

KIND              NAMESPACE   NAME           HEALTH        MESSAGE
ConfigMap         web         web-settings   Healthy
Deployment.apps   web         web            Progressing   Deployment does not have minimum availability
Namespace         -           web            Healthy
`
	if h.out.String() != want {
		t.Errorf("health:\n%s\nwant:\n%s", h.out, want)
	}
	h.mustRun(0, "health", "web", "-o", "yaml")
	var ah gitopsv1alpha1.ApplicationHealth
	if err := yaml.Unmarshal(h.out.Bytes(), &ah); err != nil || ah.Kind != "ApplicationHealth" || len(ah.Resources) != 3 {
		t.Errorf("health -o yaml: %v\n%s", err, h.out)
	}
}
