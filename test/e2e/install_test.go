package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/pki"
)

// TestInstallManifestsApplyOnARealAPIServer: kubectl ferry install --export, with etcd embedded
// and with an etcd cluster and its client certificate, prints manifests kube-apiserver accepts
// (kubectl apply --dry-run=server, every object admitted and validated, nothing stored);
// install --dry-run says what it would do and changes nothing; uninstall refuses while
// Applications exist unless told what to do with them, and its --dry-run deletes nothing.
func TestInstallManifestsApplyOnARealAPIServer(t *testing.T) {
	s := requireStack(t)
	p := buildPlugin(t, s)
	caBefore := kubectl(t, "get", "apiservice", "v1alpha1.gitops.ferry.dev", "-o", "jsonpath={.spec.caBundle}")

	embedded := p.expect(t, 0, Admin, "install", "--export", "--version", "v0.0.0-e2e")
	for _, want := range []string{"kind: StatefulSet", "kind: APIService", "--serving-cert-secret=ferry-system/ferry-apiserver-tls", "image: ghcr.io/ferry-gitops/ferry-apiserver:v0.0.0-e2e", "--data-dir=/var/lib/ferry/etcd"} {
		if !strings.Contains(embedded.Stdout, want) {
			t.Errorf("install --export lacks %q", want)
		}
	}
	// Exported manifests go into Git: the server makes its certificate, none is in them.
	if strings.Contains(embedded.Stdout, "name: ferry-apiserver-tls\n") || strings.Contains(embedded.Stdout, "caBundle") {
		t.Errorf("install --export carries the serving certificate or a caBundle:\n%s", embedded.Stdout)
	}
	applied := kubectlStdin(t, Admin, embedded.Stdout, "apply", "--dry-run=server", "-f", "-")
	if !strings.Contains(applied, "statefulset.apps/ferry-apiserver") || !strings.Contains(applied, "apiservice.apiregistration.k8s.io/v1alpha1.gitops.ferry.dev") {
		t.Errorf("kubectl apply --dry-run=server of the embedded-etcd manifests:\n%s", applied)
	}

	// An etcd of the user's, with mutual TLS: the files go into a Secret the Deployment mounts.
	dir := t.TempDir()
	ca, err := pki.NewAuthority("etcd-ca", filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Issue(pki.Leaf{CommonName: "ferry"}, filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")); err != nil {
		t.Fatal(err)
	}
	external := p.expect(t, 0, Admin, "install", "--export", "--image", "registry.example.com/ferry:v1",
		"--etcd-servers", "https://etcd-0.etcd:2379,https://etcd-1.etcd:2379", "--replicas", "3",
		"--etcd-ca-file", filepath.Join(dir, "ca.crt"), "--etcd-cert-file", filepath.Join(dir, "client.crt"), "--etcd-key-file", filepath.Join(dir, "client.key"))
	for _, want := range []string{"kind: Deployment", "kind: PodDisruptionBudget", "name: ferry-etcd-client", "--etcd-servers=https://etcd-0.etcd:2379,https://etcd-1.etcd:2379", "--etcd-certfile=/var/run/ferry/etcd/tls.crt", "replicas: 3"} {
		if !strings.Contains(external.Stdout, want) {
			t.Errorf("install --export --etcd-servers lacks %q", want)
		}
	}
	if strings.Contains(external.Stdout, "kind: StatefulSet") {
		t.Error("install --export --etcd-servers also renders the embedded StatefulSet")
	}
	applied = kubectlStdin(t, Admin, external.Stdout, "apply", "--dry-run=server", "-f", "-")
	if !strings.Contains(applied, "deployment.apps/ferry-apiserver") || !strings.Contains(applied, "secret/ferry-etcd-client") {
		t.Errorf("kubectl apply --dry-run=server of the external-etcd manifests:\n%s", applied)
	}
	r := p.expect(t, 2, Admin, "install", "--export", "--version", "v1", "--etcd-servers", "etcd-0:2379")
	if !strings.Contains(r.Stderr, "--etcd-servers") {
		t.Errorf("a bad etcd URL: want an error naming --etcd-servers, got %s", r)
	}

	// --dry-run: the server checks each object and says what would happen; nothing changes.
	dry := p.expect(t, 0, Admin, "install", "--dry-run", "--version", "v0.0.0-e2e")
	for _, want := range []string{"StatefulSet/ferry-apiserver in ferry-system: would be created", "APIService/v1alpha1.gitops.ferry.dev: would be configured", "dry run passed"} {
		if !strings.Contains(dry.Stdout, want) {
			t.Errorf("install --dry-run does not say %q:\n%s", want, dry.Stdout)
		}
	}
	if r := s.Run(Admin, "", "get", "statefulset", "ferry-apiserver", "-n", "ferry-system"); r.Err == nil {
		t.Error("install --dry-run created the StatefulSet")
	}
	if got := kubectl(t, "get", "apiservice", "v1alpha1.gitops.ferry.dev", "-o", "jsonpath={.spec.caBundle}"); got != caBefore {
		t.Error("install --dry-run changed the APIService's caBundle")
	}

	// uninstall: refused while an Application exists, unless told what to do with it.
	ns := newNamespace(t, "install")
	kubectlStdin(t, Admin, appManifest(ns, "kept", map[string]any{"syncPolicy": nil, "source.repoURL": "https://git.example.invalid/team/app.git"}), "apply", "-f", "-")
	r = p.expect(t, 2, Admin, "uninstall")
	if !strings.Contains(r.Stderr, "--applications=delete") || !strings.Contains(r.Stderr, "--applications=orphan") {
		t.Errorf("uninstall with Applications: want a refusal naming --applications, got %s", r)
	}
	r = p.expect(t, 0, Admin, "uninstall", "--dry-run", "--applications=orphan")
	for _, want := range []string{"APIService/v1alpha1.gitops.ferry.dev: would be deleted", "Namespace/ferry-system: would be deleted"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("uninstall --dry-run does not say %q:\n%s", want, r.Stdout)
		}
	}
	if got := ferryApp(t, ns, "kept"); got == nil {
		t.Fatal("uninstall --dry-run lost the Application")
	}
	kubectl(t, "get", "apiservice", "v1alpha1.gitops.ferry.dev")
}
