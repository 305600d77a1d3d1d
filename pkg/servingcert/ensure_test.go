package servingcert

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

func apiService(caBundle string, withService bool) *unstructured.Unstructured {
	spec := map[string]any{"group": "gitops.ferry.dev", "version": "v1alpha1", "groupPriorityMinimum": int64(1000), "versionPriority": int64(15)}
	if withService {
		spec["service"] = map[string]any{"name": "ferry-apiserver", "namespace": "ferry-system", "port": int64(443)}
	}
	if caBundle != "" {
		spec["caBundle"] = caBundle
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1alpha1.gitops.ferry.dev"},
		"spec":     spec,
	}}
}

func ensurer(t *testing.T, secret *corev1.Secret, svc *unstructured.Unstructured, now time.Time) Ensurer {
	t.Helper()
	var objs []runtime.Object
	if secret != nil {
		objs = append(objs, secret)
	}
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{APIServices: "APIServiceList"}, svc)
	return Ensurer{Core: fake.NewClientset(objs...), Dynamic: dyn, Namespace: "ferry-system", Name: "ferry-apiserver-tls",
		APIService: "v1alpha1.gitops.ferry.dev", Now: func() time.Time { return now }}
}

func caBundleOf(t *testing.T, e Ensurer) string {
	t.Helper()
	obj, err := e.Dynamic.Resource(APIServices).Get(context.Background(), e.APIService, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := unstructured.NestedString(obj.Object, "spec", "caBundle")
	return s
}

// TestAServerMakesItsCertificateOnceAndKeepsIt: with no Secret, the server makes a certificate
// for the APIService's Service, stores it and sets the caBundle; the next start (a restart or
// another replica) takes the same one and patches nothing.
func TestAServerMakesItsCertificateOnceAndKeepsIt(t *testing.T) {
	now := time.Now()
	e := ensurer(t, nil, apiService("", true), now)
	first, err := e.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromSecret(map[string][]byte{"ca.crt": first.CA, "tls.crt": first.Cert, "tls.key": first.Key}, "ferry-apiserver", "ferry-system", now); err != nil {
		t.Fatalf("the certificate made is not for the APIService's Service: %v", err)
	}
	stored, err := e.Core.CoreV1().Secrets("ferry-system").Get(context.Background(), "ferry-apiserver-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stored.Type != corev1.SecretTypeTLS || string(stored.Data["tls.crt"]) != string(first.Cert) {
		t.Errorf("the Secret does not hold the certificate: type %s", stored.Type)
	}
	if got := caBundleOf(t, e); got != base64.StdEncoding.EncodeToString(first.CA) {
		t.Errorf("the APIService's caBundle is not the certificate's CA")
	}

	again, err := e.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(again.Cert) != string(first.Cert) {
		t.Errorf("a second start made another certificate instead of keeping the stored one")
	}
}

// TestAnExpiringCertificateIsReplaced: a certificate with less than 90 days left is replaced in
// the Secret, and the caBundle follows.
func TestAnExpiringCertificateIsReplaced(t *testing.T) {
	old, err := New("ferry-apiserver", "ferry-system")
	if err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ferry-apiserver-tls", Namespace: "ferry-system", ResourceVersion: "1"},
		Data: map[string][]byte{"ca.crt": old.CA, "tls.crt": old.Cert, "tls.key": old.Key}}
	tenYearsOn := time.Now().Add(10*365*24*time.Hour - 30*24*time.Hour)
	e := ensurer(t, secret, apiService(base64.StdEncoding.EncodeToString(old.CA), true), tenYearsOn)
	got, err := e.Ensure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(got.CA) == string(old.CA) {
		t.Fatal("a certificate expiring within 90 days was kept")
	}
	if caBundleOf(t, e) != base64.StdEncoding.EncodeToString(got.CA) {
		t.Error("the caBundle still holds the old CA")
	}
}

// TestAnAPIServiceWithoutAServiceIsRefused: the certificate is for the APIService's Service; an
// APIService routing to none gets an error naming it, and nothing is stored.
func TestAnAPIServiceWithoutAServiceIsRefused(t *testing.T) {
	e := ensurer(t, nil, apiService("", false), time.Now())
	_, err := e.Ensure(context.Background())
	if err == nil || !strings.Contains(err.Error(), "v1alpha1.gitops.ferry.dev has no spec.service") {
		t.Fatalf("Ensure: %v; want an error naming the APIService's missing spec.service", err)
	}
	if _, err := e.Core.CoreV1().Secrets("ferry-system").Get(context.Background(), "ferry-apiserver-tls", metav1.GetOptions{}); err == nil {
		t.Error("a Secret was stored anyway")
	}
}

// TestACertificateIsGoodOnAClockBehind: a replica or kube-apiserver whose clock is a little
// behind the one that made the certificate still takes it (the CA and the leaf are backdated);
// it is not replaced on every start, and the caBundle does not flap.
func TestACertificateIsGoodOnAClockBehind(t *testing.T) {
	made, err := New("ferry-apiserver", "ferry-system")
	if err != nil {
		t.Fatal(err)
	}
	behind := time.Now().Add(-5 * time.Minute)
	if _, err := FromSecret(map[string][]byte{"ca.crt": made.CA, "tls.crt": made.Cert, "tls.key": made.Key}, "ferry-apiserver", "ferry-system", behind); err != nil {
		t.Errorf("a certificate made now is refused on a clock five minutes behind: %v", err)
	}
}
