// Package receiver is the controller of Receivers: it reads each Receiver's token from its
// Secret and writes status.webhookPath (derived from the token, so a new token gives a new path)
// and the Ready condition. It runs in the leader; every replica's webhook listener serves the
// paths it writes (pkg/webhook).
package receiver

import (
	"context"
	"fmt"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/loop"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	listers "github.com/ferry-gitops/ferry/pkg/generated/listers/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/webhook"
)

// Resync is how often every Receiver's Secret is read again: a Secret's change is noticed by
// then (the controller does not watch every Secret of the cluster for a few tokens).
const Resync = time.Minute

// TokenKey is the key of a Receiver's Secret that holds the token.
const TokenKey = "token"

// Config holds what the controller needs.
type Config struct {
	// Ferry is the client of Ferry's own API.
	Ferry versioned.Interface
	// Kube reads the Receivers' Secrets.
	Kube kubernetes.Interface
}

// Controller writes Receivers' status.
type Controller struct {
	cfg     Config
	lister  listers.ReceiverLister
	synced  cache.InformerSynced
	factory informers.SharedInformerFactory
	queue   workqueue.TypedRateLimitingInterface[string]
}

// New builds the controller; Run starts it.
func New(cfg Config) *Controller {
	factory := informers.NewSharedInformerFactory(cfg.Ferry, Resync)
	inf := factory.Gitops().V1alpha1().Receivers()
	c := &Controller{
		cfg: cfg, lister: inf.Lister(), synced: inf.Informer().HasSynced, factory: factory,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "receivers"}),
	}
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			c.queue.Add(key)
		}
	}
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		// Resyncs arrive as updates: the Secret is read again then.
		UpdateFunc: func(_, cur any) { enqueue(cur) },
	})
	return c
}

// Run starts the informer and reconciles Receivers until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithName("receivers"))
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	_ = loop.Run(ctx, c.queue, func(ctx context.Context, key string) (loop.Result, error) {
		return loop.Result{}, c.reconcile(ctx, key)
	}, loop.Options{Synced: []cache.InformerSynced{c.synced}, KeyName: "receiver"})
}

// reconcile reads the Receiver's token and writes its path and readiness.
func (c *Controller) reconcile(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rcv, err := c.lister.Receivers(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	st := rcv.Status.DeepCopy()
	st.ObservedGeneration = rcv.Generation
	ready := metav1.Condition{Type: "Ready", Status: metav1.ConditionTrue, Reason: gitopsv1alpha1.ReasonReceiverReady, ObservedGeneration: rcv.Generation,
		Message: "give the Git host the path of status.webhookPath on Ferry's webhook listener, with the token as its secret"}
	secret, err := c.cfg.Kube.CoreV1().Secrets(namespace).Get(ctx, rcv.Spec.SecretRef.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		st.WebhookPath = ""
		ready.Status, ready.Reason = metav1.ConditionFalse, gitopsv1alpha1.ReasonSecretNotFound
		ready.Message = fmt.Sprintf("secret %s/%s does not exist", namespace, rcv.Spec.SecretRef.Name)
	case err != nil:
		return fmt.Errorf("reading secret %s/%s: %w", namespace, rcv.Spec.SecretRef.Name, err)
	case len(secret.Data[TokenKey]) == 0:
		st.WebhookPath = ""
		ready.Status, ready.Reason = metav1.ConditionFalse, gitopsv1alpha1.ReasonTokenMissing
		ready.Message = fmt.Sprintf("secret %s/%s has no key %q, or it is empty", namespace, rcv.Spec.SecretRef.Name, TokenKey)
	default:
		st.WebhookPath = webhook.Path(secret.Data[TokenKey], name, namespace)
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	if apiequality.Semantic.DeepEqual(*st, rcv.Status) {
		return nil
	}
	updated := rcv.DeepCopy()
	updated.Status = *st
	if _, err := c.cfg.Ferry.GitopsV1alpha1().Receivers(namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: "ferry"}); err != nil {
		return fmt.Errorf("writing status: %w", err)
	}
	klog.FromContext(ctx).V(2).Info("Receiver's status written", "receiver", key, "ready", ready.Status, "reason", ready.Reason)
	return nil
}

// Token reads the token of a Receiver's Secret, for the webhook listener.
func Token(kube kubernetes.Interface) func(ctx context.Context, namespace, name string) ([]byte, error) {
	return func(ctx context.Context, namespace, name string) ([]byte, error) {
		s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if len(s.Data[TokenKey]) == 0 {
			return nil, fmt.Errorf("secret %s/%s has no key %q", namespace, name, TokenKey)
		}
		return s.Data[TokenKey], nil
	}
}
