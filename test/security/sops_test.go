package security

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption/decryptiontest"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// sopsTenant is a tenant's namespace holding an age key in the Secret sops-age, and a repository
// whose files encrypt for it.
type sopsTenant struct {
	ns      string
	repo    *gittest.Repo
	encrypt func(name, plain string) string
}

func newSOPSTenant(t *testing.T, prefix string) sopsTenant {
	t.Helper()
	id := decryptiontest.NewAgeIdentity(t)
	ns := newTenant(t, prefix)
	must(t, create(ctxFor(t), kube(t, admin), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: ns},
		StringData: map[string]string{"identity.agekey": id.String() + "\n"},
	}))
	return sopsTenant{ns: ns, repo: gittest.NewServer(t).NewRepo(prefix), encrypt: func(name, plain string) string {
		return string(decryptiontest.EncryptAge(t, name, []byte(plain), decryptiontest.Options{EncryptedRegex: "^(data|stringData|password)$"}, id.Recipient()))
	}}
}

// decryptingApp is an Application of path that decrypts with sops-age, created by the tenant's
// editor (who may read the keys).
func (s sopsTenant) decryptingApp(t *testing.T, name, path string) {
	t.Helper()
	app := newApp(s.ns, name, s.repo.URL(), path)
	app.Spec.Decryption = &gitopsv1alpha1.Decryption{Provider: gitopsv1alpha1.DecryptionProviderSOPS, SecretRef: &gitopsv1alpha1.LocalObjectReference{Name: "sops-age"}}
	createApp(t, editor, app)
}

const sopsPassword = "s3cr3t-Hunter-77"

// leaks reports where text shows the password, in clear or in an encoding the attacks use.
func leaks(text string) string {
	lower := strings.ToLower(text)
	for how, form := range map[string]string{
		"in clear": sopsPassword, "base64": base64.StdEncoding.EncodeToString([]byte(sopsPassword)),
		"hex": fmt.Sprintf("%x", sopsPassword), "upper case": strings.ToUpper(sopsPassword),
	} {
		if i := strings.Index(lower, strings.ToLower(form)); i >= 0 {
			return fmt.Sprintf("%s: ...%s...", how, text[max(0, i-120):min(len(text), i+len(form)+40)])
		}
	}
	return ""
}

// TestAttackViewerReadsDecryptedManifests: a user with view in a team's namespace reads
// /manifests and /diff of an Application that decrypts SOPS files, at its own revision and at a
// branch of the attacker's (?revision=), where the render would use the Application's keys. Each
// read is refused with 403 saying why; an admin reads the render, Secret values masked.
func TestAttackViewerReadsDecryptedManifests(t *testing.T) {
	s := newSOPSTenant(t, "sopsview")
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: " + sopsPassword + "\n"
	s.repo.Commit("main", map[string]string{
		"app/kustomization.yaml": "resources: [secret.yaml]\n",
		"app/secret.yaml":        s.encrypt("secret.yaml", secret),
	}, "a team's encrypted Secret")
	// The attacker's branch: the Secret's value copied where masking does not reach. /manifests
	// at this revision would decrypt it with the Application's keys.
	s.repo.Commit("attacker", map[string]string{
		"app/kustomization.yaml": "resources: [secret.yaml, cm.yaml]\n",
		"app/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: copy}\ndata: {a: b}\n",
	}, "a branch anyone who may push can add")
	s.decryptingApp(t, "shop", "app")
	apps := func(user string) interface {
		Manifests(context.Context, string, gitopsv1alpha1.ApplicationManifestsOptions) (*gitopsv1alpha1.ApplicationManifests, error)
		Diff(context.Context, string, gitopsv1alpha1.ApplicationDiffOptions) (*gitopsv1alpha1.ApplicationDiff, error)
	} {
		return ferry(t, user).GitopsV1alpha1().Applications(s.ns)
	}
	ctx := ctxFor(t)

	// The admin's read works once Git has been read; its Secret is masked.
	var manifests *gitopsv1alpha1.ApplicationManifests
	eventually.Until(t, 2*time.Minute, 500*time.Millisecond, "an admin reads /manifests", func() (bool, string) {
		var err error
		manifests, err = apps(admin).Manifests(ctx, "shop", gitopsv1alpha1.ApplicationManifestsOptions{})
		return err == nil, fmt.Sprint(err)
	})
	raw, _ := json.Marshal(manifests)
	if !strings.Contains(string(raw), `"db"`) {
		t.Errorf("an admin's /manifests does not list the Secret: %s", raw)
	}
	if where := leaks(string(raw)); where != "" {
		t.Errorf("an admin's /manifests shows the password %s", where)
	}

	for _, revision := range []string{"", "attacker"} {
		_, err := apps(viewer).Manifests(ctx, "shop", gitopsv1alpha1.ApplicationManifestsOptions{Revision: revision})
		wantReadRefused(t, err, "/manifests?revision="+revision, "manifests", s.ns)
		_, err = apps(viewer).Diff(ctx, "shop", gitopsv1alpha1.ApplicationDiffOptions{Revision: revision})
		wantReadRefused(t, err, "/diff?revision="+revision, "diff", s.ns)
	}
	// The editor, who may read the Secrets of the namespace anyway, may read the diff.
	if _, err := apps(editor).Diff(ctx, "shop", gitopsv1alpha1.ApplicationDiffOptions{}); err != nil {
		t.Errorf("the editor's /diff: %v", err)
	}
}

func wantReadRefused(t *testing.T, err error, what, sub, ns string) {
	t.Helper()
	if !apierrors.IsForbidden(err) {
		t.Errorf("viewer's %s: want 403 Forbidden, got %v", what, err)
		return
	}
	for _, want := range []string{"reading the " + sub + " of an Application that decrypts SOPS files", `get on secrets in namespace "` + ns + `"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("viewer's %s: the refusal does not say %q: %v", what, want, err)
		}
	}
}

// TestAttackDecryptedValueOutsideSecretData: a tenant's kustomize replacement copies a decrypted
// stringData.password into the same Secret's annotation, and a chart's template writes b64enc,
// printf "%x" and upper of a decrypted value into a ConfigMap: what /manifests and /diff show
// unmasked. Each Application fails with DecryptionFailed naming the object and the field, never
// the value, and applies nothing.
func TestAttackDecryptedValueOutsideSecretData(t *testing.T) {
	s := newSOPSTenant(t, "sopsleak")
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: " + sopsPassword + "\n"
	chart := func(template string) map[string]string {
		return map[string]string{
			"Chart.yaml":        "apiVersion: v2\nname: shop\nversion: 1.0.0\n",
			"values.yaml":       s.encrypt("values.yaml", "password: "+sopsPassword+"\nreplicas: 2\n"),
			"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  v: \"" + template + "\"\n",
		}
	}
	files := map[string]string{
		"replacement/kustomization.yaml": `resources: [secret.yaml]
replacements:
- source: {kind: Secret, name: db, fieldPath: stringData.password}
  targets:
  - select: {kind: Secret, name: db}
    fieldPaths: [metadata.annotations.note]
    options: {create: true}
`,
		"replacement/secret.yaml": s.encrypt("secret.yaml", secret),
	}
	cases := map[string]struct{ object, field string }{
		"replacement": {`Secret "db"`, "metadata.annotations.note"},
	}
	for name, template := range map[string]string{
		"chart-b64": `{{ .Values.password | b64enc }}`, "chart-hex": `{{ printf "%x" .Values.password }}`, "chart-upper": `{{ .Values.password | upper }}`,
	} {
		for f, data := range chart(template) {
			files[name+"/"+f] = data
		}
		cases[name] = struct{ object, field string }{`ConfigMap "settings"`, "data.v"}
	}
	s.repo.Commit("main", files, "a tenant's repository")

	for name := range cases {
		s.decryptingApp(t, name, name)
	}
	for name, want := range cases {
		app := waitForApp(t, s.ns, name, 2*time.Minute, "DecryptionFailed naming the object and field", func(a *gitopsv1alpha1.Application) bool {
			c := condition(a, "Ready")
			return c != nil && c.Reason == gitopsv1alpha1.ReasonDecryptionFailed
		})
		msg := condition(app, "Ready").Message
		for _, part := range []string{want.object, want.field} {
			if !strings.Contains(msg, part) {
				t.Errorf("%s: the condition does not name %q: %s", name, part, msg)
			}
		}
		status, _ := json.Marshal(app.Status)
		if where := leaks(string(status)); where != "" {
			t.Errorf("%s: the status shows the password %s", name, where)
		}
	}
	ctx := ctxFor(t)
	if _, err := kube(t, admin).CoreV1().Secrets(s.ns).Get(ctx, "db", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Secret of the refused render was applied: %v", err)
	}
	if _, err := kube(t, admin).CoreV1().ConfigMaps(s.ns).Get(ctx, "settings", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap of a refused render was applied: %v", err)
	}
	events, err := kube(t, admin).CoreV1().Events(s.ns).List(ctx, metav1.ListOptions{})
	must(t, err)
	text, _ := json.Marshal(events.Items)
	if where := leaks(string(text)); where != "" {
		t.Errorf("the namespace's Events show the password %s", where)
	}
}
