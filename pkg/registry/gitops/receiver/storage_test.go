package receiver_test

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
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/receiver"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: g.config.ForResource(resource), Decorator: generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1, ResourcePrefix: resource.Group + "/" + resource.Resource}, nil
}

// rights are what each user may do, as "user verb resource[/subresource] namespace[/name]".
type rights map[string]bool

func (r rights) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	res := a.GetResource()
	if a.GetSubresource() != "" {
		res += "/" + a.GetSubresource()
	}
	where := a.GetNamespace()
	if a.GetName() != "" {
		where += "/" + a.GetName()
	}
	if r[a.GetUser().GetName()+" "+a.GetVerb()+" "+res+" "+where] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func newStorage(t *testing.T, allowed rights) receiver.Storage {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	var authz authorizer.Authorizer
	if allowed != nil {
		authz = authorizer.AuthorizerFunc(allowed.Authorize)
	}
	st, err := receiver.NewStorage(apiserver.Scheme, restOptionsGetter{config}, receiver.Options{Authorizer: authz})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Receiver.DestroyFunc)
	return st
}

func as(who string) context.Context {
	return genericapirequest.WithUser(genericapirequest.WithNamespace(genericapirequest.NewContext(), "shop"), &user.DefaultInfo{Name: who})
}

func github() *gitops.Receiver {
	return &gitops.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: "shop"},
		Spec: gitops.ReceiverSpec{
			Type: gitops.ReceiverGitHub, SecretRef: gitops.LocalObjectReference{Name: "hook-token"},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "shop"}},
		},
	}
}

// TestWritingAReceiverNeedsItsSecretAndTheRightToRefresh: the writer of a Receiver must be
// allowed to get its Secret and to create applications/refresh in its namespace; each refusal
// is a 403 naming the field, and nothing is stored.
func TestWritingAReceiverNeedsItsSecretAndTheRightToRefresh(t *testing.T) {
	st := newStorage(t, rights{
		"admin get secrets shop/hook-token":          true,
		"admin create applications/refresh shop":     true,
		"reader get secrets shop/hook-token":         true,
		"refresher create applications/refresh shop": true,
	})
	for _, tc := range []struct{ who, want string }{
		{"refresher", `spec.secretRef.name: Forbidden: user "refresher" may not get secret shop/hook-token`},
		{"reader", `spec.selector: Forbidden: user "reader" may not create applications/refresh in namespace shop`},
	} {
		_, err := st.Receiver.Create(as(tc.who), github(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s creates a Receiver: got %v, want 403 with %q", tc.who, err, tc.want)
		}
		if _, err := st.Receiver.Get(as("admin"), "github", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a refused Receiver was stored: %v", err)
		}
	}

	created, err := st.Receiver.Create(as("admin"), github(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("admin, who may do both: %v", err)
	}
	// Pointing it at another Secret is checked again.
	rcv := created.(*gitops.Receiver).DeepCopy()
	rcv.Spec.SecretRef.Name = "other-token"
	_, _, err = st.Receiver.Update(as("admin"), "github", rest.DefaultUpdatedObjectInfo(rcv), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "spec.secretRef.name") {
		t.Fatalf("admin points the Receiver at a Secret he may not read: %v", err)
	}
	// A change of labels alone, by someone with neither right, is not a change of what it names.
	rcv = created.(*gitops.Receiver).DeepCopy()
	rcv.Labels = map[string]string{"owner": "shop"}
	if _, _, err := st.Receiver.Update(as("labeller"), "github", rest.DefaultUpdatedObjectInfo(rcv), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatalf("a label change was checked as a new reference: %v", err)
	}
}

func TestAReceiverIsValidatedFieldByField(t *testing.T) {
	st := newStorage(t, nil)
	for _, tc := range []struct {
		name   string
		mutate func(*gitops.Receiver)
		want   string
	}{
		{"no type", func(r *gitops.Receiver) { r.Spec.Type = "" }, "spec.type: Required value"},
		{"an unknown type", func(r *gitops.Receiver) { r.Spec.Type = "bitbucket-cloud" }, `spec.type: Unsupported value: "bitbucket-cloud"`},
		{"no secret", func(r *gitops.Receiver) { r.Spec.SecretRef.Name = "" }, "spec.secretRef.name: Required value"},
		{"a bad secret name", func(r *gitops.Receiver) { r.Spec.SecretRef.Name = "Bad_Name" }, `spec.secretRef.name: Invalid value: "Bad_Name"`},
		{"no selector", func(r *gitops.Receiver) { r.Spec.Selector = nil }, "spec.selector: Required value"},
		{"a bad selector", func(r *gitops.Receiver) {
			r.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near"}}}
		}, "spec.selector.matchExpressions[0].operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := github()
			tc.mutate(r)
			_, err := st.Receiver.Create(as("admin"), r, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want Invalid with %q", err, tc.want)
			}
		})
	}
	// {} selects every Application of the namespace: accepted.
	r := github()
	r.Spec.Selector = &metav1.LabelSelector{}
	if _, err := st.Receiver.Create(as("admin"), r, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("an empty selector: %v", err)
	}
}

func TestReceiverStatusIsTheControllers(t *testing.T) {
	st := newStorage(t, nil)
	r := github()
	r.Status.WebhookPath = "/hook/mine"
	obj, err := st.Receiver.Create(as("admin"), r, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := obj.(*gitops.Receiver)
	if created.Status.WebhookPath != "" || created.Generation != 1 {
		t.Errorf("create kept status %+v, generation %d; want no status, generation 1", created.Status, created.Generation)
	}
	upd := created.DeepCopy()
	upd.Status.WebhookPath = "/hook/abc"
	upd.Spec.Type = gitops.ReceiverGitLab
	obj, _, err = st.Status.Update(as("ferry"), "github", rest.DefaultUpdatedObjectInfo(upd), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := obj.(*gitops.Receiver); got.Status.WebhookPath != "/hook/abc" || got.Spec.Type != gitops.ReceiverGitHub {
		t.Errorf("status write: path %q type %q; want the new path and the old type", got.Status.WebhookPath, got.Spec.Type)
	}
}
