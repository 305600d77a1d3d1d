package e2e

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption/decryptiontest"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestSOPSEncryptedSecretsAreAppliedDecrypted: a kustomization holding a SOPS (age) encrypted
// Secret manifest and an encrypted env file for a secretGenerator. With a wrong key in
// spec.decryption's Secret the Application says which file it cannot decrypt and applies
// nothing; once the Secret holds the right key (a rotation, no change to the Application) the
// Secrets are applied decrypted, and the values appear nowhere Ferry writes or shows: not in
// the Application, its Events, /manifests, /diff or the server's log.
func TestSOPSEncryptedSecretsAreAppliedDecrypted(t *testing.T) {
	s := requireStack(t)
	const dbMarker = "db-pass-marker-4f1a93"
	const apiMarker = "api-token-marker-77c2e1"
	right := decryptiontest.NewAgeIdentity(t)
	wrong := decryptiontest.NewAgeIdentity(t)

	secret := `apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
  labels: {app: shop}
type: Opaque
stringData:
  username: shop
  password: ` + dbMarker + `
  url: postgres://shop:` + dbMarker + `@db:5432/shop
`
	onlyData := decryptiontest.Options{EncryptedRegex: "^(data|stringData)$"}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("shop")
	repo.Commit("main", map[string]string{
		"app/kustomization.yaml": `resources: [db-credentials.enc.yaml, deployment.yaml]
secretGenerator:
- name: api
  envs: [api.env]
`,
		"app/db-credentials.enc.yaml": string(decryptiontest.EncryptAge(t, "db-credentials.enc.yaml", []byte(secret), onlyData, right.Recipient())),
		"app/api.env":                 string(decryptiontest.EncryptAge(t, "api.env", []byte("API_TOKEN="+apiMarker+"\nREGION=eu-west-1\n"), decryptiontest.Options{}, right.Recipient())),
		"app/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec:
      containers:
      - name: shop
        image: registry.example/shop:1.4.2
        env:
        - name: DATABASE_URL
          valueFrom: {secretKeyRef: {name: db-credentials, key: url}}
        envFrom:
        - secretRef: {name: api}
`,
	}, "shop with encrypted secrets")
	ns := newNamespace(t, "sops")
	keySecret := func(id string) string {
		return `apiVersion: v1
kind: Secret
metadata: {name: sops-age, namespace: ` + ns + `}
stringData:
  identity.agekey: |
    # the shop's age key
    ` + id + "\n"
	}
	kubectlStdin(t, Admin, keySecret(wrong.String()), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "shop", repo, "app", ns, map[string]any{
		"decryption": map[string]any{"provider": "sops", "secretRef": map[string]any{"name": "sops-age"}},
	}), "apply", "-f", "-")

	app := waitApp(t, ns, "shop", "DecryptionFailed naming the file", func(a *gitopsv1alpha1.Application) bool {
		c := condition(a, "Ready")
		return strings.HasPrefix(c, "False/"+gitopsv1alpha1.ReasonDecryptionFailed) &&
			(strings.Contains(c, "app/db-credentials.enc.yaml") || strings.Contains(c, "app/api.env")) &&
			strings.Contains(c, right.Recipient().String())
	})
	t.Logf("with the wrong key: %s", condition(app, "Ready"))
	if r := s.Run(Admin, "", "get", "secret", "db-credentials", "-n", ns); r.Err == nil {
		t.Errorf("a Secret was applied although nothing could be decrypted")
	}

	rotated := time.Now()
	kubectlStdin(t, Admin, keySecret(right.String()), "apply", "-f", "-")
	waitApp(t, ns, "shop", "Synced after the key was rotated", func(a *gitopsv1alpha1.Application) bool { return synced(a) })
	t.Logf("Synced %s after the key Secret was rotated", time.Since(rotated).Round(100*time.Millisecond))

	got, err := base64.StdEncoding.DecodeString(kubectl(t, "get", "secret", "db-credentials", "-n", ns, "-o", "jsonpath={.data.password}"))
	if err != nil || string(got) != dbMarker {
		t.Errorf("db-credentials' password is %q, want the decrypted value", got)
	}
	var apiSecret string
	for _, name := range strings.Fields(kubectl(t, "get", "secrets", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}")) {
		if strings.HasPrefix(name, "api-") {
			apiSecret = name
		}
	}
	if apiSecret == "" {
		t.Fatalf("the secretGenerator's Secret api-<hash> is missing")
	}
	got, err = base64.StdEncoding.DecodeString(kubectl(t, "get", "secret", apiSecret, "-n", ns, "-o", "jsonpath={.data.API_TOKEN}"))
	if err != nil || string(got) != apiMarker {
		t.Errorf("%s's API_TOKEN is %q, want the decrypted value", apiSecret, got)
	}

	base := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/shop"
	seen := []string{
		kubectl(t, "get", "application", "shop", "-n", ns, "-o", "yaml"),
		kubectl(t, "get", "events", "-n", ns, "-o", "yaml"),
	}
	for _, sub := range []string{"/manifests", "/diff"} {
		r := s.Run(Admin, "", "get", "--raw", base+sub)
		if r.Err != nil {
			t.Errorf("GET %s: %s", sub, r)
		}
		seen = append(seen, r.Stdout)
	}
	if !strings.Contains(seen[2], `"db-credentials"`) {
		t.Errorf("/manifests does not list the decrypted Secret: %s", seen[2])
	}
	seen = append(seen, s.LogTail("ferry-apiserver", 1_000_000))
	for _, marker := range []string{dbMarker, apiMarker, base64.StdEncoding.EncodeToString([]byte(dbMarker)), base64.StdEncoding.EncodeToString([]byte(apiMarker))} {
		for _, text := range seen {
			if i := strings.Index(text, marker); i >= 0 {
				t.Errorf("%q appears: ...%s...", marker, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
}
