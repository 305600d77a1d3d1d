package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestWritingAnApplicationNeedsTheRightsItUses: through kube-apiserver, with token users. A user
// holding only ferry-edit may write Applications but may not make one act as a ServiceAccount
// or send a Secret's credentials: 403 naming the field, nothing stored, the same answer for
// --dry-run=server and for an update. A user with the built-in edit role (impersonate on
// serviceaccounts, get on secrets) may.
func TestWritingAnApplicationNeedsTheRightsItUses(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "refs")
	kubectl(t, "create", "serviceaccount", "deployer", "-n", ns)
	kubectl(t, "create", "secret", "generic", "git-token", "--from-literal=username=ci", "--from-literal=password=s3cret", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=ferry-edit", "--user=editor", "-n", ns)
	kubectl(t, "create", "rolebinding", "other", "--clusterrole=edit", "--user=other", "-n", ns)
	for _, u := range []string{"editor", "other"} {
		eventually(t, 60*time.Second, u+" may create applications", func() (bool, string) {
			r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "-n", ns, "--as="+u)
			return strings.TrimSpace(r.Stdout) == "yes", r.String()
		})
	}
	manual := map[string]any{"syncPolicy": nil, "source.repoURL": "https://git.example.invalid/team/app.git"}
	withSA := func(name string) string {
		return appManifest(ns, name, merge(manual, map[string]any{"serviceAccountName": "deployer"}))
	}
	withSecret := func(name string) string {
		return appManifest(ns, name, merge(manual, map[string]any{"source.credentialsRef": map[string]any{"name": "git-token"}}))
	}
	// Several sources: the second one sends the Secret to its own repository.
	sources := func(secondRepo string) []any {
		return []any{
			map[string]any{"repoURL": "https://git.example.invalid/team/app.git", "path": "deploy"},
			map[string]any{"repoURL": secondRepo, "ref": "values", "credentialsRef": map[string]any{"name": "git-token"}},
		}
	}
	withSecretOfASource := func(name string) string {
		return appManifest(ns, name, merge(manual, map[string]any{"source": nil, "sources": sources("https://git.example.invalid/team/config.git")}))
	}
	withKeys := func(name string) string {
		return appManifest(ns, name, merge(manual, map[string]any{"decryption": map[string]any{"provider": "sops", "secretRef": map[string]any{"name": "sops-age"}}}))
	}

	for _, tc := range []struct {
		what, manifest, name, refusal string
	}{
		{"a ServiceAccount", withSA("as-deployer"), "as-deployer",
			`spec.serviceAccountName: Forbidden: user "editor" may not impersonate serviceaccount ` + ns + `/deployer`},
		{"a credentials Secret", withSecret("with-token"), "with-token",
			`spec.source.credentialsRef.name: Forbidden: user "editor" may not get secret ` + ns + `/git-token`},
		{"a credentials Secret of one of several sources", withSecretOfASource("with-sources"), "with-sources",
			`spec.sources[1].credentialsRef.name: Forbidden: user "editor" may not get secret ` + ns + `/git-token`},
		{"SOPS decryption keys", withKeys("with-keys"), "with-keys",
			`spec.decryption.secretRef.name: Forbidden: user "editor" may not get secret ` + ns + `/sops-age`},
	} {
		for _, args := range [][]string{{"create", "--dry-run=server", "-f", "-"}, {"create", "-f", "-"}} {
			r := kubectlFails(t, "editor", tc.manifest, args...)
			if !strings.Contains(r.Stderr, "Forbidden") || !strings.Contains(r.Stderr, tc.refusal) {
				t.Errorf("editor names %s (kubectl %s): want 403 saying %q, got %s", tc.what, strings.Join(args, " "), tc.refusal, r)
			}
		}
		assertNotFound(t, ns, tc.name)
		// The user with the rights is allowed.
		kubectlStdin(t, "other", tc.manifest, "create", "-f", "-")
	}

	// editor may edit Applications, but not change what one acting as deployer deploys, nor
	// where one holding the Secret sends it.
	r := kubectlFails(t, "editor", "", "patch", "application", "as-deployer", "-n", ns, "--type=merge", "-p", `{"spec":{"source":{"path":"anything"}}}`)
	if !strings.Contains(r.Stderr, `may not impersonate serviceaccount `+ns+`/deployer`) {
		t.Errorf("editor changes the path of an Application acting as deployer: want 403, got %s", r)
	}
	r = kubectlFails(t, "editor", "", "patch", "application", "with-token", "-n", ns, "--type=merge", "-p", `{"spec":{"source":{"repoURL":"https://attacker.example.invalid/collect.git"}}}`)
	if !strings.Contains(r.Stderr, "spec.source.credentialsRef.name: Forbidden") {
		t.Errorf("editor points an Application holding a Secret at another server: want 403, got %s", r)
	}
	if got := ferryApp(t, ns, "with-token").Spec.Source.RepoURL; got != "https://git.example.invalid/team/app.git" {
		t.Errorf("a refused patch changed repoURL to %s", got)
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"sources": sources("https://attacker.example.invalid/collect.git")}})
	if err != nil {
		t.Fatal(err)
	}
	r = kubectlFails(t, "editor", "", "patch", "application", "with-sources", "-n", ns, "--type=merge", "-p", string(patch))
	if !strings.Contains(r.Stderr, "spec.sources[1].credentialsRef.name: Forbidden") {
		t.Errorf("editor points the source holding a Secret at another server: want 403, got %s", r)
	}
	if got := ferryApp(t, ns, "with-sources").Spec.Sources[1].RepoURL; got != "https://git.example.invalid/team/config.git" {
		t.Errorf("a refused patch changed spec.sources[1].repoURL to %s", got)
	}
	// A change of labels needs no such right.
	kubectlAs(t, "editor", "label", "application", "as-deployer", "-n", ns, "reviewed=yes")
}

// merge returns a copy of a with b's keys set.
func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
