// Package notification is the controller that sends Alerts: it watches Applications, Alerts
// and AlertProviders, computes which of an Alert's triggers an Application's status holds
// (pkg/gitops/notify), claims each new one in the Alert's status (so it fires once per revision
// and state, in one replica), delivers it with retries, and records the delivery in the Alert's
// status, as an Event on the Application and in ferry_notifications_total.
//
// Only the replica that reconciles an Application sends its alerts: the leader unsharded, the
// holder of its shard with --shards (Config.Shards, asked as the Application controller asks).
package notification

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	listers "github.com/ferry-gitops/ferry/pkg/generated/listers/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
)

// Shards is this replica's share of the Applications (shard.Manager).
type Shards interface {
	// Hold says whether this replica reconciles Applications of cluster now; while release has
	// not been called, the shard stays held.
	Hold(ctx context.Context, cluster string) (held context.Context, release func(), wait time.Duration, ok bool)
}

// Config is what the controller runs with.
type Config struct {
	// Ferry reads Applications, Alerts and AlertProviders and writes Alerts' status.
	Ferry versioned.Interface
	// Kube reads providers' Secrets and records Events.
	Kube kubernetes.Interface
	// Addresses is the notification address policy (--notification-allowed-cidrs); nil is the
	// default one. Sender delivers under it; nil builds one.
	Addresses *egress.Policy
	Sender    *notify.Sender
	// Shards, when set, says which Applications this replica sends alerts of; nil sends all.
	Shards Shards
	// Workers is how many Applications are looked at (and their alerts delivered) at once.
	Workers int
}

// kind of a work item.
type kind int

const (
	appItem kind = iota
	alertItem
	providerItem
)

// item is one thing to look at: an Application, an Alert or an AlertProvider.
type item struct {
	kind      kind
	namespace string
	name      string
}

// Controller sends Alerts; see the package's documentation.
type Controller struct {
	cfg       Config
	apps      listers.ApplicationLister
	alerts    listers.AlertLister
	providers listers.AlertProviderLister
	synced    []cache.InformerSynced
	factory   informers.SharedInformerFactory
	queue     workqueue.TypedRateLimitingInterface[item]
	events    record.EventBroadcaster
	recorder  record.EventRecorder

	mu sync.Mutex
	// deleted holds the last state of Applications the informer saw go, until their Deleted
	// alerts are sent.
	deleted map[item]*gitopsv1alpha1.Application
}

// New builds the controller; Run starts it.
func New(cfg Config) (*Controller, error) {
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Addresses == nil {
		p, err := notify.Policy(nil)
		if err != nil {
			return nil, err
		}
		cfg.Addresses = p
	}
	if cfg.Sender == nil {
		cfg.Sender = notify.NewSender(cfg.Addresses)
	}
	factory := informers.NewSharedInformerFactory(cfg.Ferry, 0)
	appInf := factory.Gitops().V1alpha1().Applications()
	alertInf := factory.Gitops().V1alpha1().Alerts()
	providerInf := factory.Gitops().V1alpha1().AlertProviders()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		cfg:       cfg,
		apps:      appInf.Lister(),
		alerts:    alertInf.Lister(),
		providers: providerInf.Lister(),
		synced:    []cache.InformerSynced{appInf.Informer().HasSynced, alertInf.Informer().HasSynced, providerInf.Informer().HasSynced},
		factory:   factory,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[item](),
			workqueue.TypedRateLimitingQueueConfig[item]{Name: "notifications"}),
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ferry"}),
		deleted:  map[item]*gitopsv1alpha1.Application{},
	}
	if cfg.Kube != nil {
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Kube.CoreV1().Events("")})
	}
	_, _ = appInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(appItem, obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(appItem, obj) },
		DeleteFunc: c.appDeleted,
	})
	_, _ = alertInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(alertItem, obj) },
		UpdateFunc: func(_, obj any) { c.enqueue(alertItem, obj) },
	})
	_, _ = providerInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.providerChanged(obj) },
		UpdateFunc: func(_, obj any) { c.providerChanged(obj) },
		DeleteFunc: func(obj any) { c.providerChanged(obj) },
	})
	return c, nil
}

func (c *Controller) enqueue(k kind, obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if o, err := cache.ObjectToName(obj); err == nil {
		c.queue.Add(item{kind: k, namespace: o.Namespace, name: o.Name})
	}
}

// appDeleted keeps the Application's last state for its Deleted alerts.
func (c *Controller) appDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	app, ok := obj.(*gitopsv1alpha1.Application)
	if !ok {
		return
	}
	key := item{kind: appItem, namespace: app.Namespace, name: app.Name}
	c.mu.Lock()
	c.deleted[key] = app
	c.mu.Unlock()
	c.queue.Add(key)
}

// takeDeleted returns (and forgets) the last state of a deleted Application.
func (c *Controller) takeDeleted(key item) *gitopsv1alpha1.Application {
	c.mu.Lock()
	defer c.mu.Unlock()
	app := c.deleted[key]
	delete(c.deleted, key)
	return app
}

// providerChanged looks at the provider's status and at the Alerts using it again.
func (c *Controller) providerChanged(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*gitopsv1alpha1.AlertProvider)
	if !ok {
		return
	}
	c.queue.Add(item{kind: providerItem, namespace: p.Namespace, name: p.Name})
	alerts, _ := c.alerts.Alerts(p.Namespace).List(labels.Everything())
	for _, a := range alerts {
		if a.Spec.ProviderRef.Name == p.Name {
			c.queue.Add(item{kind: alertItem, namespace: a.Namespace, name: a.Name})
		}
	}
}

// Run starts the informers and the workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context) {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	defer c.events.Shutdown()
	logger := klog.FromContext(ctx).WithName("notifications")
	ctx = klog.NewContext(ctx, logger)
	c.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return
	}
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Go(func() {
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for c.processNext(ctx) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
	c.queue.ShutDown()
	wg.Wait()
}

func (c *Controller) processNext(ctx context.Context) bool {
	it, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(it)
	var err error
	switch it.kind {
	case appItem:
		err = c.syncApplication(ctx, it)
	case alertItem:
		err = c.syncAlert(ctx, it)
	case providerItem:
		err = c.syncProvider(ctx, it)
	}
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Retrying", "namespace", it.namespace, "name", it.name, "err", err)
		c.queue.AddRateLimited(it)
		return true
	}
	c.queue.Forget(it)
	return true
}

// syncApplication sends the alerts whose triggers an Application's status holds and that have
// not fired for this revision and state yet.
func (c *Controller) syncApplication(ctx context.Context, it item) error {
	var firings []notify.Firing
	app, err := c.apps.Applications(it.namespace).Get(it.name)
	switch {
	case apierrors.IsNotFound(err):
		if app = c.takeDeleted(it); app == nil {
			return nil
		}
		firings = []notify.Firing{notify.DeletedFiring(app)}
		defer c.enqueueAlertsOf(app.Namespace) // to drop its entries from their status
	case err != nil:
		return err
	default:
		firings = notify.Firings(app)
	}
	if c.cfg.Shards != nil {
		held, release, _, ok := c.cfg.Shards.Hold(ctx, app.Spec.Destination.Cluster)
		if !ok {
			return nil // the replica that reconciles it sends its alerts
		}
		defer release()
		ctx = held
	}
	alerts, err := c.alerts.Alerts(app.Namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range alerts {
		if err := c.alertApplication(ctx, a, app, firings); err != nil {
			errs = append(errs, fmt.Errorf("alert %s: %w", a.Name, err))
		}
	}
	return utilerrorsAggregate(errs)
}

func (c *Controller) enqueueAlertsOf(namespace string) {
	alerts, _ := c.alerts.Alerts(namespace).List(labels.Everything())
	for _, a := range alerts {
		c.queue.Add(item{kind: alertItem, namespace: a.Namespace, name: a.Name})
	}
}
