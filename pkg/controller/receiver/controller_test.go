package receiver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
	"github.com/ferry-gitops/ferry/pkg/webhook"
)

func TestReceiverStatusFollowsItsSecret(t *testing.T) {
	rcv := &gitopsv1alpha1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "github", Namespace: "shop", Generation: 2},
		Spec: gitopsv1alpha1.ReceiverSpec{Type: gitopsv1alpha1.ReceiverGitHub, SecretRef: gitopsv1alpha1.LocalObjectReference{Name: "hook"},
			Selector: &metav1.LabelSelector{}},
	}
	ferry := fake.NewSimpleClientset(rcv) //nolint:staticcheck // the simple tracker: no schema for Receiver
	kube := kubefake.NewSimpleClientset() //nolint:staticcheck
	c := New(Config{Ferry: ferry, Kube: kube})
	ctx := t.Context()
	c.factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), c.synced) {
		t.Fatal("the informer did not sync")
	}
	check := func(what, wantPath, wantReason string) {
		t.Helper()
		if err := c.reconcile(ctx, "shop/github"); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got, err := ferry.GitopsV1alpha1().Receivers("shop").Get(ctx, "github", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := meta.FindStatusCondition(got.Status.Conditions, "Ready")
		if got.Status.WebhookPath != wantPath || ready == nil || ready.Reason != wantReason || got.Status.ObservedGeneration != 2 {
			t.Errorf("%s: path %q, Ready %+v, observedGeneration %d; want path %q, reason %s", what, got.Status.WebhookPath, ready, got.Status.ObservedGeneration, wantPath, wantReason)
		}
		// The next reconcile reads the status written.
		if err := c.factory.Gitops().V1alpha1().Receivers().Informer().GetStore().Update(got); err != nil {
			t.Fatal(err)
		}
	}

	check("no Secret", "", gitopsv1alpha1.ReasonSecretNotFound)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "shop"}, Data: map[string][]byte{"other": []byte("x")}}
	if _, err := kube.CoreV1().Secrets("shop").Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	check("no token in the Secret", "", gitopsv1alpha1.ReasonTokenMissing)
	secret.Data = map[string][]byte{"token": []byte("one")}
	if _, err := kube.CoreV1().Secrets("shop").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	check("a token", webhook.Path([]byte("one"), "github", "shop"), gitopsv1alpha1.ReasonReceiverReady)
	secret.Data = map[string][]byte{"token": []byte("two")}
	if _, err := kube.CoreV1().Secrets("shop").Update(ctx, secret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	check("a new token: a new path", webhook.Path([]byte("two"), "github", "shop"), gitopsv1alpha1.ReasonReceiverReady)
}
