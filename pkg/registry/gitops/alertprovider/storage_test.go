package alertprovider_test

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
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/alertprovider"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: g.config.ForResource(resource), Decorator: generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1, ResourcePrefix: resource.Group + "/" + resource.Resource}, nil
}

// readers may get the listed Secrets.
type readers map[string]bool

func (r readers) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetVerb() == "get" && a.GetResource() == "secrets" && r[a.GetUser().GetName()+" "+a.GetNamespace()+"/"+a.GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func newStorage(t *testing.T, allowed readers, policy *egress.Policy) alertprovider.Storage {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := alertprovider.NewStorage(apiserver.Scheme, restOptionsGetter{config}, alertprovider.Options{
		Authorizer: authorizer.AuthorizerFunc(allowed.Authorize), Addresses: policy,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.AlertProvider.DestroyFunc)
	return st
}

func as(who string) context.Context {
	return genericapirequest.WithUser(genericapirequest.WithNamespace(genericapirequest.NewContext(), "team"), &user.DefaultInfo{Name: who})
}

func slack() *gitops.AlertProvider {
	return &gitops.AlertProvider{
		ObjectMeta: metav1.ObjectMeta{Name: "slack", Namespace: "team"},
		Spec:       gitops.AlertProviderSpec{Type: "slack", Address: "https://hooks.slack.com/services/T/B/X", SecretRef: &gitops.LocalObjectReference{Name: "slack-token"}},
	}
}

// TestNamingASecretNeedsTheRightToReadIt: Ferry sends the token of the named Secret to the
// provider, so whoever names it must be allowed to read it; a refusal is a 403 naming
// spec.secretRef.name and stores nothing.
func TestNamingASecretNeedsTheRightToReadIt(t *testing.T) {
	st := newStorage(t, readers{"alice team/slack-token": true}, nil)
	_, err := st.AlertProvider.Create(as("bob"), slack(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `spec.secretRef.name: Forbidden: user "bob" may not get secret team/slack-token`) {
		t.Fatalf("bob names a Secret he may not read: %v", err)
	}
	if _, err := st.AlertProvider.Get(as("alice"), "slack", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused AlertProvider was stored: %v", err)
	}
	if _, err := st.AlertProvider.Create(as("alice"), slack(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("alice, who may read the Secret: %v", err)
	}
	obj, _ := st.AlertProvider.Get(as("alice"), "slack", &metav1.GetOptions{})
	moved := obj.(*gitops.AlertProvider).DeepCopy()
	moved.Spec.Address = "https://collector.example.net/"
	_, _, err = st.AlertProvider.Update(as("bob"), "slack", rest.DefaultUpdatedObjectInfo(moved), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("bob sends alice's token to his own server: %v", err)
	}
}

// TestAProviderIsValidatedFieldByField: each mistake is refused naming its field; a loopback,
// link-local or metadata address is refused unless --notification-allowed-cidrs lists it.
func TestAProviderIsValidatedFieldByField(t *testing.T) {
	st := newStorage(t, readers{"alice team/slack-token": true}, nil)
	for _, tc := range []struct {
		name   string
		mutate func(*gitops.AlertProvider)
		want   string
	}{
		{"unknown type", func(p *gitops.AlertProvider) { p.Spec.Type = "pager" }, `spec.type: Unsupported value: "pager"`},
		{"no address, no secret", func(p *gitops.AlertProvider) { p.Spec.Address, p.Spec.SecretRef = "", nil }, "spec.address: Required value"},
		{"loopback", func(p *gitops.AlertProvider) { p.Spec.Address = "http://127.0.0.1:9000/hook" }, "spec.address: Invalid value"},
		{"ipv6 loopback", func(p *gitops.AlertProvider) { p.Spec.Address = "http://[::1]:9000/hook" }, "spec.address: Invalid value"},
		{"metadata", func(p *gitops.AlertProvider) { p.Spec.Address = "http://169.254.169.254/latest" }, "spec.address: Invalid value"},
		{"metadata by name", func(p *gitops.AlertProvider) { p.Spec.Address = "http://metadata.google.internal/" }, "--notification-allowed-cidrs"},
		{"not http", func(p *gitops.AlertProvider) { p.Spec.Address = "file:///etc/passwd" }, "spec.address: Invalid value"},
		{"channel of a webhook", func(p *gitops.AlertProvider) { p.Spec.Type = "generic"; p.Spec.Channel = "#x" }, "spec.channel: Invalid value"},
	} {
		p := slack()
		tc.mutate(p)
		_, err := st.AlertProvider.Create(as("alice"), p, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error saying %q, got %v", tc.name, tc.want, err)
		}
	}
	local, _ := notify.Policy([]string{"127.0.0.0/8"})
	st = newStorage(t, readers{"alice team/slack-token": true}, local)
	p := slack()
	p.Spec.Address = "http://127.0.0.1:9000/hook"
	if _, err := st.AlertProvider.Create(as("alice"), p, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Errorf("loopback with 127.0.0.0/8 allowed: %v", err)
	}
}
