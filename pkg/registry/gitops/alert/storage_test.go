package alert_test

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
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/alert"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: g.config.ForResource(resource), Decorator: generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1, ResourcePrefix: resource.Group + "/" + resource.Resource}, nil
}

// TestAnAlertIsValidatedFieldByField: triggers outside the contract, a missing selector, a CEL
// expression that does not compile or is not boolean, and a template that does not parse are
// each refused naming their field.
func TestAnAlertIsValidatedFieldByField(t *testing.T) {
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := alert.NewStorage(apiserver.Scheme, restOptionsGetter{config}, alert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Alert.DestroyFunc)
	ctx := genericapirequest.WithNamespace(context.Background(), "team")
	good := func() *gitops.Alert {
		return &gitops.Alert{ObjectMeta: metav1.ObjectMeta{Name: "ops", Namespace: "team"}, Spec: gitops.AlertSpec{
			ProviderRef: gitops.LocalObjectReference{Name: "slack"}, Triggers: []gitops.AlertTrigger{"SyncFailed", "Drifted"},
			Selector: &metav1.LabelSelector{}, When: `app.metadata.labels["tier"] == "prod"`, Template: `{{.Application.Name}}: {{.Trigger}}`,
		}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*gitops.Alert)
		want   string
	}{
		{"unknown trigger", func(a *gitops.Alert) { a.Spec.Triggers = []gitops.AlertTrigger{"OnSyncFailed"} }, `spec.triggers[0]: Unsupported value: "OnSyncFailed"`},
		{"no trigger", func(a *gitops.Alert) { a.Spec.Triggers = nil }, "spec.triggers: Required value"},
		{"twice", func(a *gitops.Alert) { a.Spec.Triggers = []gitops.AlertTrigger{"Drifted", "Drifted"} }, "spec.triggers[1]: Duplicate value"},
		{"no selector", func(a *gitops.Alert) { a.Spec.Selector = nil }, "spec.selector: Required value"},
		{"no provider", func(a *gitops.Alert) { a.Spec.ProviderRef.Name = "" }, "spec.providerRef.name: Required value"},
		{"when does not compile", func(a *gitops.Alert) { a.Spec.When = `app.status.health.status ==` }, "spec.when: Invalid value"},
		{"when is not boolean", func(a *gitops.Alert) { a.Spec.When = `app.metadata.name` }, "spec.when: Invalid value"},
		{"when names no variable of ours", func(a *gitops.Alert) { a.Spec.When = `application.name == "x"` }, "spec.when: Invalid value"},
		{"template does not parse", func(a *gitops.Alert) { a.Spec.Template = `{{.Trigger` }, "spec.template: Invalid value"},
		{"template loops", func(a *gitops.Alert) { a.Spec.Template = `{{range .Trigger}}{{end}}` }, "spec.template: Invalid value"},
	} {
		a := good()
		tc.mutate(a)
		_, err := st.Alert.Create(ctx, a, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error saying %q, got %v", tc.name, tc.want, err)
		}
	}
	if _, err := st.Alert.Create(ctx, good(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Errorf("a good Alert: %v", err)
	}
}

// rights are what each user may do, as "user verb resource namespace[/name]".
type rights map[string]bool

func (r rights) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	where := a.GetNamespace()
	if a.GetName() != "" {
		where += "/" + a.GetName()
	}
	if a.GetAPIGroup() == gitops.GroupName && r[a.GetUser().GetName()+" "+a.GetVerb()+" "+a.GetResource()+" "+where] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func as(who string) context.Context {
	return genericapirequest.WithUser(genericapirequest.WithNamespace(genericapirequest.NewContext(), "shop"), &user.DefaultInfo{Name: who})
}

// TestWritingAnAlertNeedsItsProviderAndTheRightToListApplications: the writer of an Alert must
// be allowed to get its AlertProvider and to list the Applications of its namespace; each
// refusal is a 403 naming the field and the user, and nothing is stored. A change of labels
// alone is not checked again; pointing the Alert at another provider is.
func TestWritingAnAlertNeedsItsProviderAndTheRightToListApplications(t *testing.T) {
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	allowed := rights{
		"admin get alertproviders shop/slack":  true,
		"admin list applications shop":         true,
		"lister list applications shop":        true,
		"sender get alertproviders shop/slack": true,
	}
	st, err := alert.NewStorage(apiserver.Scheme, restOptionsGetter{config}, alert.Options{Authorizer: authorizer.AuthorizerFunc(allowed.Authorize)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Alert.DestroyFunc)
	ops := func() *gitops.Alert {
		return &gitops.Alert{ObjectMeta: metav1.ObjectMeta{Name: "ops", Namespace: "shop"}, Spec: gitops.AlertSpec{
			ProviderRef: gitops.LocalObjectReference{Name: "slack"}, Triggers: []gitops.AlertTrigger{"SyncFailed"},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
		}}
	}
	for _, tc := range []struct{ who, want string }{
		{"lister", `spec.providerRef.name: Forbidden: user "lister" may not get alertprovider shop/slack`},
		{"sender", `spec.selector: Forbidden: user "sender" may not list applications in namespace shop`},
	} {
		_, err := st.Alert.Create(as(tc.who), ops(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s creates an Alert: got %v, want 403 with %q", tc.who, err, tc.want)
		}
		if _, err := st.Alert.Get(as("admin"), "ops", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a refused Alert was stored: %v", err)
		}
	}

	created, err := st.Alert.Create(as("admin"), ops(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("admin, who may do both: %v", err)
	}
	// A change of labels alone, by someone with neither right, is not a change of what it names.
	a := created.(*gitops.Alert).DeepCopy()
	a.Labels = map[string]string{"owner": "shop"}
	updated, _, err := st.Alert.Update(as("labeller"), "ops", rest.DefaultUpdatedObjectInfo(a), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatalf("a label change was checked as a new reference: %v", err)
	}
	// Pointing it at another provider is checked again.
	a = updated.(*gitops.Alert).DeepCopy()
	a.Spec.ProviderRef.Name = "pager"
	_, _, err = st.Alert.Update(as("admin"), "ops", rest.DefaultUpdatedObjectInfo(a), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `spec.providerRef.name: Forbidden: user "admin" may not get alertprovider shop/pager`) {
		t.Fatalf("admin points the Alert at a provider he may not read: %v", err)
	}
}
