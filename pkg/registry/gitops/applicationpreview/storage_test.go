package applicationpreview_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/applicationpreview"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:           g.config.ForResource(resource),
		Decorator:               generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          resource.Group + "/" + resource.Resource,
	}, nil
}

// grants allows "user verb resource[.group] namespace/name" and nothing else.
type grants map[string]bool

func (g grants) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	res := a.GetResource()
	if a.GetAPIGroup() != "" {
		res += "." + a.GetAPIGroup()
	}
	if g[a.GetUser().GetName()+" "+a.GetVerb()+" "+res+" "+a.GetNamespace()+"/"+a.GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

// fixture is the preview storage over a real etcd holding Applications, with a previewer that
// records what it was asked.
type fixture struct {
	apps    application.Storage
	etcd    *clientv3.Client
	preview *applicationpreview.REST
	asked   []application.PreviewRequest
	answer  application.PreviewResult
}

func newFixture(t *testing.T, allowed grants) *fixture {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := application.NewStorage(apiserver.Scheme, restOptionsGetter{config}, application.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Application.DestroyFunc)
	f := &fixture{apps: st, etcd: server.V3Client.Client}
	f.preview = applicationpreview.NewREST(applicationpreview.Options{
		Applications: st.Application.Store,
		Authorizer:   authorizer.AuthorizerFunc(allowed.Authorize),
		Tenancy:      tenancy.Policy{DefaultServiceAccount: "default", PrivilegedNamespaces: []string{"ferry-system"}},
		Preview: func(_ context.Context, app *gitops.Application, req application.PreviewRequest) (application.PreviewResult, error) {
			f.asked = append(f.asked, req)
			return f.answer, nil
		},
	})
	return f
}

func (f *fixture) createApp(t *testing.T, app *gitops.Application) *gitops.Application {
	t.Helper()
	obj, err := f.apps.Application.Create(ctxAs(app.Namespace, nil), app, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create Application: %v", err)
	}
	return obj.(*gitops.Application)
}

func (f *fixture) create(u user.Info, namespace string, spec gitops.ApplicationPreviewSpec) (*gitops.ApplicationPreview, error) {
	obj, err := f.preview.Create(ctxAs(namespace, u), &gitops.ApplicationPreview{Spec: spec}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*gitops.ApplicationPreview), nil
}

func ctxAs(namespace string, u user.Info) context.Context {
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), namespace)
	if u != nil {
		ctx = genericapirequest.WithUser(ctx, u)
	}
	return ctx
}

func webApp() *gitops.Application {
	return &gitops.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a"},
		Spec: gitops.ApplicationSpec{
			Source:             gitops.ApplicationSource{RepoURL: "https://git.example.com/org/web.git", Revision: "main", Path: "app"},
			ServiceAccountName: "deployer",
		},
	}
}

func wantStatus(t *testing.T, err error, is func(error) bool, what string, parts ...string) {
	t.Helper()
	if err == nil || !is(err) {
		t.Fatalf("%s: got %v", what, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: the error does not say %q: %v", what, p, err)
		}
	}
}

var alice = &user.DefaultInfo{Name: "alice", UID: "u-1", Groups: []string{"devs", "system:authenticated"}, Extra: map[string][]string{"scopes": {"a"}}}

// A bad request is refused with the field it is about, and nothing is computed.
func TestPreviewValidationNamesTheField(t *testing.T) {
	f := newFixture(t, grants{"alice get applications.gitops.ferry.dev team-a/web": true})
	f.createApp(t, webApp())
	for what, tc := range map[string]struct {
		spec gitops.ApplicationPreviewSpec
		want string
	}{
		"no application":            {gitops.ApplicationPreviewSpec{Revision: "main"}, "spec.application: Required value"},
		"no revision":               {gitops.ApplicationPreviewSpec{Application: "web"}, "spec.revision: Required value"},
		"a fork with a token":       {gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr", RepoURL: "https://tok@evil.example.com/x.git"}, "spec.repoURL: Invalid value"},
		"a file fork":               {gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr", RepoURL: "file:///etc"}, "spec.repoURL: Forbidden"},
		"two revisions, one source": {gitops.ApplicationPreviewSpec{Application: "web", Revision: "main v2"}, "spec.revision: Invalid value"},
	} {
		_, err := f.create(alice, "team-a", tc.spec)
		wantStatus(t, err, apierrors.IsInvalid, what, tc.want)
	}
	if len(f.asked) != 0 {
		t.Errorf("refused requests were computed: %+v", f.asked)
	}
}

// A user who may create previews but not get the Application is refused with 403 naming it,
// before anything is read or fetched; an Application that does not exist is refused alike, so
// that a refused user learns nothing of it.
func TestPreviewRefusedWithoutGetOnTheApplication(t *testing.T) {
	f := newFixture(t, grants{"alice get applications.gitops.ferry.dev team-a/web": true})
	f.createApp(t, webApp())
	bob := &user.DefaultInfo{Name: "bob"}
	_, err := f.create(bob, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-1"})
	wantStatus(t, err, apierrors.IsForbidden, "bob previews web", `Application team-a/web`, `user "bob" may not get it`)
	_, err = f.create(bob, "team-a", gitops.ApplicationPreviewSpec{Application: "ghost", Revision: "pr-1"})
	wantStatus(t, err, apierrors.IsForbidden, "bob previews an Application that does not exist", `Application team-a/ghost`)
	if len(f.asked) != 0 {
		t.Fatalf("a refused preview was rendered: %+v", f.asked)
	}
	if _, err := f.create(alice, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-1"}); err != nil {
		t.Fatalf("alice, who may get web: %v", err)
	}
}

// The comparison runs as the requester (name, UID, groups, extra); spec.asServiceAccount runs
// it as the Application's ServiceAccount, only for a requester who may impersonate it.
func TestPreviewComparesAsTheRequester(t *testing.T) {
	f := newFixture(t, grants{
		"alice get applications.gitops.ferry.dev team-a/web": true, "carol get applications.gitops.ferry.dev team-a/web": true,
		"carol impersonate serviceaccounts team-a/deployer":             true,
		"carol get applications.gitops.ferry.dev ferry-system/platform": true, "carol impersonate serviceaccounts ferry-system/": true,
	})
	f.createApp(t, webApp())
	platform := webApp()
	platform.Namespace, platform.Name, platform.Spec.ServiceAccountName = "ferry-system", "platform", ""
	f.createApp(t, platform)

	if _, err := f.create(alice, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-1"}); err != nil {
		t.Fatal(err)
	}
	as := f.asked[0].As
	if as == nil || as.UserName != "alice" || as.UID != "u-1" || strings.Join(as.Groups, ",") != "devs,system:authenticated" || as.Extra["scopes"][0] != "a" {
		t.Errorf("the comparison runs as %+v, want alice with her UID, groups and extra", as)
	}

	_, err := f.create(alice, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-1", AsServiceAccount: true})
	wantStatus(t, err, apierrors.IsForbidden, "alice asks for the ServiceAccount", "spec.asServiceAccount", "ServiceAccount team-a/deployer", `user "alice" may not impersonate it`)
	if len(f.asked) != 1 {
		t.Fatalf("a refused asServiceAccount preview was computed: %+v", f.asked[1:])
	}
	if _, err := f.create(&user.DefaultInfo{Name: "carol"}, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-1", AsServiceAccount: true}); err != nil {
		t.Fatalf("carol, who may impersonate deployer: %v", err)
	}
	if as := f.asked[1].As; as != nil {
		t.Errorf("asServiceAccount compares as %+v, want the Application's own identity", as)
	}
	// A privileged Application acts as no ServiceAccount of its namespace: nobody borrows it.
	_, err = f.create(&user.DefaultInfo{Name: "carol"}, "ferry-system", gitops.ApplicationPreviewSpec{Application: "platform", Revision: "pr-1", AsServiceAccount: true})
	wantStatus(t, err, apierrors.IsForbidden, "asServiceAccount of a privileged Application", "privileged identity")
}

// A preview of an Application that decrypts SOPS files needs get on secrets, as /diff does.
func TestPreviewOfADecryptingApplicationNeedsGetOnSecrets(t *testing.T) {
	f := newFixture(t, grants{"alice get applications.gitops.ferry.dev team-a/web": true, "dave get applications.gitops.ferry.dev team-a/web": true, "dave get secrets team-a/": true})
	app := webApp()
	app.Spec.Decryption = &gitops.Decryption{Provider: gitops.DecryptionProviderSOPS, SecretRef: &gitops.LocalObjectReference{Name: "sops-age"}}
	f.createApp(t, app)
	_, err := f.create(alice, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "attacker-branch"})
	wantStatus(t, err, apierrors.IsForbidden, "alice previews a decrypting Application", `get on secrets in namespace "team-a"`)
	if len(f.asked) != 0 {
		t.Fatalf("a refused preview was rendered: %+v", f.asked)
	}
	if _, err := f.create(&user.DefaultInfo{Name: "dave"}, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "attacker-branch"}); err != nil {
		t.Fatalf("dave, who may get secrets: %v", err)
	}
}

// The answer holds the objects with Secret values masked and the diff with its summary; nothing
// of the preview is written to etcd and the Application is untouched.
func TestPreviewAnswersMaskedAndStoresNothing(t *testing.T) {
	f := newFixture(t, grants{"alice get applications.gitops.ferry.dev team-a/web": true})
	app := f.createApp(t, webApp())
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db", "namespace": "team-a"},
		"data": map[string]any{"password": "aHVudGVyMg=="}, "stringData": map[string]any{"token": "hunter2"},
	}}
	f.answer = application.PreviewResult{
		Revision: "0123456789abcdef0123456789abcdef01234567", ComparedAs: "alice", Objects: []*unstructured.Unstructured{secret},
		Items: []gitops.ResourceDiff{{Version: "v1", Kind: "ConfigMap", Namespace: "team-a", Name: "web", Action: gitops.DiffUpdate, Diff: "-a\n+b\n"}, {Version: "v1", Kind: "Secret", Namespace: "team-a", Name: "db", Action: gitops.DiffNone}},
	}
	p, err := f.create(alice, "team-a", gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Revision != f.answer.Revision || p.Status.ComparedAs != "alice" {
		t.Errorf("status %+v", p.Status)
	}
	if s := p.Status.Diff.Summary; s.Update != 1 || s.None != 1 || len(p.Status.Diff.Items) != 2 {
		t.Errorf("diff %+v", p.Status.Diff)
	}
	if len(p.Status.Objects) != 1 {
		t.Fatalf("objects: %d", len(p.Status.Objects))
	}
	raw := string(p.Status.Objects[0].Raw)
	if strings.Contains(raw, "aHVudGVyMg==") || strings.Contains(raw, "hunter2") {
		t.Errorf("a Secret value left the server: %s", raw)
	}
	var shown map[string]any
	if err := json.Unmarshal(p.Status.Objects[0].Raw, &shown); err != nil || shown["data"].(map[string]any)["password"] == nil {
		t.Errorf("the masked Secret lost its keys: %v %s", err, raw)
	}

	keys, err := f.etcd.Get(context.Background(), "", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range keys.Kvs {
		if strings.Contains(string(kv.Key), "preview") {
			t.Errorf("a preview was stored in etcd: %s", kv.Key)
		}
	}
	after, err := f.apps.Application.Get(ctxAs("team-a", nil), "web", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rv := after.(*gitops.Application).ResourceVersion; rv != app.ResourceVersion {
		t.Errorf("the preview wrote the Application: resourceVersion %s, was %s", rv, app.ResourceVersion)
	}
}
