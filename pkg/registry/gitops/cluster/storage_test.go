package cluster_test

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
	certutil "k8s.io/client-go/util/cert"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/cluster"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: g.config.ForResource(resource), Decorator: generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1, ResourcePrefix: resource.Group + "/" + resource.Resource}, nil
}

// readers may get the listed Secrets of ferry-system.
type readers map[string]bool

func (r readers) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.GetVerb() == "get" && a.GetResource() == "secrets" && r[a.GetUser().GetName()+" "+a.GetNamespace()+"/"+a.GetName()] {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "no RBAC policy matched", nil
}

func newStorage(t *testing.T, allowed readers) cluster.Storage {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := cluster.NewStorage(apiserver.Scheme, restOptionsGetter{config}, cluster.Options{
		Authorizer: authorizer.AuthorizerFunc(allowed.Authorize), CredentialsNamespace: "ferry-system",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Cluster.DestroyFunc)
	return st
}

func as(who string) context.Context {
	return genericapirequest.WithUser(genericapirequest.WithNamespace(genericapirequest.NewContext(), ""), &user.DefaultInfo{Name: who})
}

func staging() *gitops.Cluster {
	return &gitops.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "staging", Labels: map[string]string{"env": "staging"}},
		Spec:       gitops.ClusterSpec{Server: "https://staging.example.com:6443", CredentialsRef: gitops.LocalObjectReference{Name: "staging-creds"}},
	}
}

// TestRegisteringAClusterNeedsTheRightToReadItsCredentials: whoever points a Cluster at a
// server sends the credentials Secret there, so must be allowed to read it; a refusal is a 403
// naming spec.credentialsRef.name and stores nothing, as does pointing a Cluster elsewhere.
func TestRegisteringAClusterNeedsTheRightToReadItsCredentials(t *testing.T) {
	st := newStorage(t, readers{"admin ferry-system/staging-creds": true})
	_, err := st.Cluster.Create(as("bob"), staging(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `spec.credentialsRef.name: Forbidden: user "bob" may not get secret ferry-system/staging-creds`) {
		t.Fatalf("bob registers a Cluster with credentials he may not read: %v", err)
	}
	if _, err := st.Cluster.Get(as("admin"), "staging", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused Cluster was stored: %v", err)
	}
	if _, err := st.Cluster.Create(as("admin"), staging(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("admin, who may read the Secret: %v", err)
	}
	obj, _ := st.Cluster.Get(as("admin"), "staging", &metav1.GetOptions{})
	moved := obj.(*gitops.Cluster).DeepCopy()
	moved.Spec.Server = "https://collector.example.net"
	_, _, err = st.Cluster.Update(as("bob"), "staging", rest.DefaultUpdatedObjectInfo(moved), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "https://collector.example.net") {
		t.Fatalf("bob points the Cluster at his own server: %v", err)
	}
	relabelled := obj.(*gitops.Cluster).DeepCopy()
	relabelled.Labels["tier"] = "2"
	if _, _, err := st.Cluster.Update(as("bob"), "staging", rest.DefaultUpdatedObjectInfo(relabelled), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Errorf("labels alone send the credentials nowhere new: %v", err)
	}
}

// TestAClusterIsValidatedFieldByField: each mistake is refused naming its field.
func TestAClusterIsValidatedFieldByField(t *testing.T) {
	st := newStorage(t, readers{"admin ferry-system/staging-creds": true, "admin ferry-system/": true})
	for _, tc := range []struct {
		name   string
		mutate func(*gitops.Cluster)
		want   string
	}{
		{"plain http", func(c *gitops.Cluster) { c.Spec.Server = "http://staging.example.com" }, "spec.server: Invalid value"},
		{"no server", func(c *gitops.Cluster) { c.Spec.Server = "" }, "spec.server: Required value"},
		{"credentials in the URL", func(c *gitops.Cluster) { c.Spec.Server = "https://user:pw@staging.example.com" }, "spec.server: Invalid value: \"<redacted>\""},
		{"no credentials", func(c *gitops.Cluster) { c.Spec.CredentialsRef.Name = "" }, "spec.credentialsRef.name: Required value"},
		{"not a certificate", func(c *gitops.Cluster) { c.Spec.CABundle = []byte("not pem") }, "spec.caBundle: Invalid value"},
	} {
		c := staging()
		tc.mutate(c)
		_, err := st.Cluster.Create(as("admin"), c, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error saying %q, got %v", tc.name, tc.want, err)
		}
		if strings.Contains(tc.name, "credentials in the URL") && err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the refusal quotes the password: %v", err)
		}
	}
}

// TestTrustingAnotherCertificateNeedsTheRightToReadTheCredentials: a Cluster's caBundle and
// tlsServerName decide who may answer as its server; a writer who changes them, with the server
// unchanged, chooses who receives the credentials (a CA of theirs, a name their certificate
// holds), so must be allowed to read the Secret. The refusal names the field and stores nothing.
func TestTrustingAnotherCertificateNeedsTheRightToReadTheCredentials(t *testing.T) {
	st := newStorage(t, readers{"admin ferry-system/staging-creds": true})
	if _, err := st.Cluster.Create(as("admin"), staging(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	theirCA, _, err := certutil.GenerateSelfSignedCertKey("collector.example.net", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field  string
		change func(*gitops.Cluster)
	}{
		{"spec.caBundle", func(c *gitops.Cluster) { c.Spec.CABundle = theirCA }},
		{"spec.tlsServerName", func(c *gitops.Cluster) { c.Spec.TLSServerName = "collector.example.net" }},
	} {
		obj, err := st.Cluster.Get(as("admin"), "staging", &metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		changed := obj.(*gitops.Cluster).DeepCopy()
		tc.change(changed)
		_, _, err = st.Cluster.Update(as("bob"), "staging", rest.DefaultUpdatedObjectInfo(changed), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.field+`: Forbidden: user "bob" may not get secret ferry-system/staging-creds`) {
			t.Errorf("bob changes %s: %v; want 403 naming the field and the Secret", tc.field, err)
		}
		after, _ := st.Cluster.Get(as("admin"), "staging", &metav1.GetOptions{})
		if a := after.(*gitops.Cluster); len(a.Spec.CABundle) > 0 || a.Spec.TLSServerName != "" {
			t.Errorf("a refused change of %s was stored", tc.field)
		}
	}
}
