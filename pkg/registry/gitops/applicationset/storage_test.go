package applicationset_test

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/applicationset"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: g.config.ForResource(resource), Decorator: generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1, ResourcePrefix: resource.Group + "/" + resource.Resource}, nil
}

// grants allows exactly the listed "user verb resource namespace/name".
type grants map[string]bool

func (g grants) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if g[a.GetUser().GetName()+" "+a.GetVerb()+" "+a.GetResource()+" "+a.GetNamespace()+"/"+a.GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func guestbookSet() *gitops.ApplicationSet {
	return &gitops.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "guestbook"},
		Spec: gitops.ApplicationSetSpec{
			ServiceAccountName: "deployer",
			Generators: []gitops.ApplicationSetGenerator{{Git: &gitops.GitGenerator{
				RepoURL: "https://git.example.com/fleet.git", CredentialsRef: &gitops.LocalObjectReference{Name: "fleet-token"},
				Directories: []gitops.GitDirectoryGeneratorItem{{Path: "apps/*"}},
			}}},
			Template: gitops.ApplicationSetTemplate{
				Metadata: gitops.ApplicationSetTemplateMeta{Name: "{{.path.basename}}"},
				Spec:     gitops.ApplicationSpec{Source: gitops.ApplicationSource{RepoURL: "https://git.example.com/fleet.git", Path: "{{.path.path}}"}},
			},
		},
	}
}

// TestWritingAnApplicationSetNeedsItsServiceAccountAndCredentials: the writer of a set must be
// allowed to impersonate the ServiceAccount its Applications act as and to read the Secret its
// git generator sends; each refusal is a 403 naming the field, and nothing is stored. A template
// that does not parse is a 422 naming its field.
func TestWritingAnApplicationSetNeedsItsServiceAccountAndCredentials(t *testing.T) {
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	allowed := grants{"alice impersonate serviceaccounts team-a/deployer": true, "alice get secrets team-a/fleet-token": true}
	st, err := applicationset.NewStorage(apiserver.Scheme, restOptionsGetter{config}, applicationset.Options{
		Authorizer: authorizer.AuthorizerFunc(allowed.Authorize), Tenancy: tenancy.Policy{DefaultServiceAccount: "default"},
		Templates: applicationset.CheckTemplates,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.ApplicationSet.DestroyFunc)
	as := func(who string) context.Context {
		return genericapirequest.WithUser(genericapirequest.WithNamespace(genericapirequest.NewContext(), "team-a"), &user.DefaultInfo{Name: who})
	}
	_, err = st.ApplicationSet.Create(as("bob"), guestbookSet(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	for _, want := range []string{`spec.serviceAccountName: Forbidden: user "bob" may not impersonate serviceaccount team-a/deployer`,
		`spec.generators[0].git.credentialsRef.name: Forbidden: user "bob" may not get secret team-a/fleet-token`} {
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("bob writes the set: want 403 saying %q, got %v", want, err)
		}
	}
	if _, err := st.ApplicationSet.Get(as("alice"), "guestbook", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused set was stored: %v", err)
	}
	broken := guestbookSet()
	broken.Spec.Template.Spec.Source.Path = "{{.path.path"
	if _, err := st.ApplicationSet.Create(as("alice"), broken, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.template.spec.source.path") {
		t.Errorf("a template that does not parse: want 422 naming spec.template.spec.source.path, got %v", err)
	}
	if _, err := st.ApplicationSet.Create(as("alice"), guestbookSet(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("alice, who may do both: %v", err)
	}
}
