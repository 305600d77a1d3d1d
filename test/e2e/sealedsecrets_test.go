package e2e

import (
	"fmt"
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// sealedSecretCRD is the shape of Bitnami's SealedSecret CRD (the schema trimmed to what the
// test's object uses), and externalSecretCRD External Secrets Operator's ExternalSecret.
const sealedSecretCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: sealedsecrets.bitnami.com}
spec:
  group: bitnami.com
  names: {kind: SealedSecret, listKind: SealedSecretList, plural: sealedsecrets, singular: sealedsecret}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

const externalSecretCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: externalsecrets.external-secrets.io}
spec:
  group: external-secrets.io
  names: {kind: ExternalSecret, listKind: ExternalSecretList, plural: externalsecrets, singular: externalsecret}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`

// TestSealedAndExternalSecretsJustWork: an Application deploying a SealedSecret and an
// ExternalSecret (their CRDs installed, their controllers not running) is Synced and Healthy;
// the Secrets those controllers would create next to them (owned by the custom resources, with
// no tracking annotation) are neither drift nor pruned, through a sync with prune and a change
// of the repository.
func TestSealedAndExternalSecretsJustWork(t *testing.T) {
	s := requireStack(t)
	for _, crd := range []string{sealedSecretCRD, externalSecretCRD} {
		kubectlStdin(t, Admin, crd, "apply", "-f", "-")
	}
	t.Cleanup(func() {
		s.Run(Admin, "", "delete", "crd", "sealedsecrets.bitnami.com", "externalsecrets.external-secrets.io", "--wait=false", "--ignore-not-found")
	})
	for _, name := range []string{"sealedsecrets.bitnami.com", "externalsecrets.external-secrets.io"} {
		kubectl(t, "wait", "--for=condition=Established", "crd/"+name, "--timeout=60s")
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("secrets")
	repo.Commit("main", map[string]string{
		"app/db-credentials.yaml": `apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata: {name: db-credentials}
spec:
  encryptedData: {password: AgBy3i4OJSWK+PiTySYZZA==}
  template: {metadata: {name: db-credentials}, type: Opaque}
`,
		"app/api-token.yaml": `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: api-token}
spec:
  refreshInterval: 1h
  secretStoreRef: {name: vault, kind: ClusterSecretStore}
  target: {name: api-token}
  data: [{secretKey: token, remoteRef: {key: apps/web, property: token}}]
`,
		"app/settings.yaml": configMapYAML("settings", "v1"),
	}, "secrets as CRs")
	ns := newNamespace(t, "sealed")
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, map[string]any{"syncPolicy.automated": map[string]any{"prune": true, "selfHeal": true}}), "apply", "-f", "-")
	waitApp(t, ns, "web", "Synced and Healthy", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
	})

	// What the controllers would do: a Secret owned by each custom resource.
	for _, owner := range []struct{ apiVersion, kind, name string }{
		{"bitnami.com/v1alpha1", "SealedSecret", "db-credentials"},
		{"external-secrets.io/v1", "ExternalSecret", "api-token"},
	} {
		uid := strings.TrimSpace(kubectl(t, "get", owner.kind, owner.name, "-n", ns, "-o", "jsonpath={.metadata.uid}"))
		secret := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
  ownerReferences: [{apiVersion: %s, kind: %s, name: %s, uid: %s, controller: true}]
stringData: {value: from-the-controller}
`, owner.name, ns, owner.apiVersion, owner.kind, owner.name, uid)
		kubectlStdin(t, Admin, secret, "apply", "-f", "-")
	}
	// A new commit, applied with prune, leaves them alone.
	second := repo.Commit("main", map[string]string{"app/settings.yaml": configMapYAML("settings", "v2")}, "settings v2")
	waitApp(t, ns, "web", "Synced at the second commit", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == second
	})
	for _, name := range []string{"db-credentials", "api-token"} {
		r := s.Run(Admin, "", "get", "secret", name, "-n", ns, "-o", "jsonpath={.data.value}")
		if r.Err != nil || r.Stdout != "ZnJvbS10aGUtY29udHJvbGxlcg==" {
			t.Errorf("the controller's Secret %s after a pruning sync: %s", name, r)
		}
	}
	app := getApp(t, ns, "web")
	for _, res := range app.Status.Resources {
		if res.Kind == "Secret" {
			t.Errorf("the inventory holds the controller's Secret %s", res.Name)
		}
	}
	diff := kubectl(t, "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/diff")
	if strings.Contains(diff, `"kind":"Secret"`) {
		t.Errorf("/diff lists a Secret the Application does not manage: %s", diff)
	}
}
