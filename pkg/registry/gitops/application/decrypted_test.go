package application_test

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

// TestReadingADecryptedRenderNeedsGetOnSecrets: /manifests and /diff of an Application that
// decrypts SOPS files are refused, before any render, to a user who may not get secrets in its
// namespace, at its own revision and at any other branch; a user who may read them, and any
// reader of an Application that decrypts nothing, get the render.
func TestReadingADecryptedRenderNeedsGetOnSecrets(t *testing.T) {
	st := newStorage(t)
	secret := validApplication("team-a", "secrets")
	secret.Spec.Decryption = &gitops.Decryption{Provider: gitops.DecryptionProviderSOPS, SecretRef: &gitops.LocalObjectReference{Name: "sops-age"}}
	create(t, st, secret)
	create(t, st, validApplication("team-a", "plain"))
	// The view role of team-a has no get on secrets; alice, an editor of team-a, has.
	authz := authorizer.AuthorizerFunc(grants{"alice get secrets team-a/": true}.Authorize)

	var renders []string
	manifests := application.NewManifestsREST(st.Application.Store, func(_ context.Context, app *gitops.Application, revision string) (string, []*unstructured.Unstructured, error) {
		renders = append(renders, app.Name+"@"+revision)
		return "0123456789abcdef0123456789abcdef01234567", nil, nil
	}, authz)
	diff := application.NewDiffREST(st.Application.Store, func(_ context.Context, app *gitops.Application, revision string) (string, []gitops.ResourceDiff, error) {
		renders = append(renders, app.Name+"@"+revision)
		return "0123456789abcdef0123456789abcdef01234567", nil, nil
	}, authz)
	reads := map[string]func(ctx context.Context, name, revision string) error{
		"manifests": func(ctx context.Context, name, revision string) error {
			_, err := manifests.Get(ctx, name, &gitops.ApplicationManifestsOptions{Revision: revision})
			return err
		},
		"diff": func(ctx context.Context, name, revision string) error {
			_, err := diff.Get(ctx, name, &gitops.ApplicationDiffOptions{Revision: revision})
			return err
		},
	}
	viewer := ctxFor("team-a", &user.DefaultInfo{Name: "vera"})
	editor := ctxFor("team-a", &user.DefaultInfo{Name: "alice"})
	for what, read := range reads {
		for _, revision := range []string{"", "attacker-branch"} {
			renders = nil
			wantForbidden(t, read(viewer, "secrets", revision), what+" of a decrypting Application for a viewer, revision "+revision,
				"reading the "+what+" of an Application that decrypts SOPS files", `get on secrets in namespace "team-a"`, `user "vera" may not`)
			if len(renders) != 0 {
				t.Errorf("%s: the refused read rendered %v", what, renders)
			}
			if err := read(editor, "secrets", revision); err != nil {
				t.Errorf("%s of a decrypting Application for alice, who may get secrets, revision %q: %v", what, revision, err)
			}
			if err := read(viewer, "plain", revision); err != nil {
				t.Errorf("%s of an Application that decrypts nothing for a viewer, revision %q: %v", what, revision, err)
			}
			if want := []string{"secrets@" + revision, "plain@" + revision}; len(renders) != 2 || renders[0] != want[0] || renders[1] != want[1] {
				t.Errorf("%s: rendered %v, want %v", what, renders, want)
			}
		}
	}
}
