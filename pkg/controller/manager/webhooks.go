package manager

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/receiver"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	"github.com/ferry-gitops/ferry/pkg/webhook"
)

// webhookPathIndex indexes Receivers by status.webhookPath.
const webhookPathIndex = "status.webhookPath"

// serveWebhooks runs the webhook listener on Config.WebhookBindAddress until ctx ends: every
// replica serves it (the Service spreads deliveries), finding Receivers by the paths the
// leader's Receiver controller writes, and refreshing through Ferry's own API as Ferry.
func (m *Manager) serveWebhooks(ctx context.Context) {
	logger := m.logger.WithName("webhook")
	factory := informers.NewSharedInformerFactory(m.cfg.Ferry, 0)
	inf := factory.Gitops().V1alpha1().Receivers().Informer()
	if err := inf.AddIndexers(cache.Indexers{webhookPathIndex: func(obj any) ([]string, error) {
		if r, ok := obj.(*v1alpha1.Receiver); ok && r.Status.WebhookPath != "" {
			return []string{r.Status.WebhookPath}, nil
		}
		return nil, nil
	}}); err != nil {
		logger.Error(err, "Webhook listener not started")
		return
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return
	}
	broadcaster := record.NewBroadcaster()
	defer broadcaster.Shutdown()
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.cfg.Kube.CoreV1().Events("")})
	ferry := m.cfg.Ferry.GitopsV1alpha1()
	srv := webhook.New(webhook.Config{
		Receiver: func(path string) (*v1alpha1.Receiver, bool) {
			objs, err := inf.GetIndexer().ByIndex(webhookPathIndex, path)
			if err != nil || len(objs) != 1 {
				return nil, false
			}
			return objs[0].(*v1alpha1.Receiver), true
		},
		Token: receiver.Token(m.cfg.Kube),
		Applications: func(ctx context.Context, namespace string, selector labels.Selector) ([]*v1alpha1.Application, error) {
			list, err := ferry.Applications(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
			if err != nil {
				return nil, err
			}
			apps := make([]*v1alpha1.Application, len(list.Items))
			for i := range list.Items {
				apps[i] = &list.Items[i]
			}
			return apps, nil
		},
		Refresh: func(ctx context.Context, namespace, name, reason string) error {
			_, err := ferry.Applications(namespace).Refresh(ctx, name, &v1alpha1.ApplicationRefresh{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       v1alpha1.ApplicationRefreshSpec{Reason: reason},
			}, metav1.CreateOptions{})
			return err
		},
		Recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ferry-webhook"}),
	})
	if err := srv.Run(ctx, m.cfg.WebhookBindAddress, nil); err != nil {
		logger.Error(fmt.Errorf("serving Receivers' webhooks: %w", err), "Webhook listener stopped")
	}
}
