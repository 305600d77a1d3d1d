// Package application is Ferry's Application controller: it watches Applications, and for each one resolves
// its revision, renders it, applies and prunes as its sync policy or a requested operation says,
// judges health, and writes status and Events. It runs inside ferry-apiserver, reading
// Applications through the server's loopback client and writing to the target cluster.
package application

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller"
	"github.com/ferry-gitops/ferry/pkg/controller/drift"
	"github.com/ferry-gitops/ferry/pkg/controller/loop"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	listers "github.com/ferry-gitops/ferry/pkg/generated/listers/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

// Config holds what the controller needs.
type Config struct {
	// Ferry is the client of Ferry's own API (the loopback client inside ferry-apiserver).
	Ferry versioned.Interface
	// Kube is the client of the target cluster, for Events.
	Kube kubernetes.Interface
	// Engine resolves, renders and applies.
	Engine *engine.Engine
	// Workers is the number of Applications reconciled at once.
	Workers int
	// Live, when set, serves live objects from watches and reports changes to them; without it
	// the controller reads objects with GETs and sees drift only at the interval.
	Live LiveObjects
	// Shards, when set, says which Applications this replica reconciles (by destination
	// cluster); without it the controller reconciles every Application.
	Shards Shards
	// FinalizerTimeout bounds how long a deleted Application waits for its objects to be
	// pruned; 0 means DefaultFinalizerTimeout.
	FinalizerTimeout time.Duration
}

// Shards is this replica's share of the Applications (shard.Manager).
type Shards interface {
	// Hold says whether this replica reconciles Applications of cluster now; while release has
	// not been called the shard stays here. wait, when not ok, is how long until it will.
	Hold(ctx context.Context, cluster string) (held context.Context, release func(), wait time.Duration, ok bool)
}

// LiveObjects is the cache of managed objects kept by watches, per cluster (drift.Fleet): ""
// is the cluster Ferry runs in, any other name a Cluster's.
type LiveObjects interface {
	Watch(cluster string, gvks ...schema.GroupVersionKind) error
	Synced(cluster string, gvks ...schema.GroupVersionKind) bool
	Get(cluster string, ref apply.ObjectRef) (*unstructured.Unstructured, bool)
}

// Controller reconciles Applications.
type Controller struct {
	ferry    versioned.Interface
	engine   *engine.Engine
	workers  int
	lister   listers.ApplicationLister
	synced   cache.InformerSynced
	factory  informers.SharedInformerFactory
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	events   record.EventBroadcaster
	live     LiveObjects
	indexer  cache.Indexer
	shards   Shards
	// namespaces are the namespaces of the cluster Ferry runs in, watched to stop syncing the
	// Applications of a namespace being deleted; nil without Config.Kube.
	namespaces corelisters.NamespaceLister
	// windows are the SyncWindows, watched to hold automated syncs while one blocks.
	windows          listers.SyncWindowLister
	windowsSynced    cache.InformerSynced
	kubeFactory      kubeinformers.SharedInformerFactory
	finalizerTimeout time.Duration

	mu sync.Mutex
	// memory is what the controller remembers of each Application between reconciles.
	memory map[string]*appMemory
}

// New builds a controller; Run starts it.
func New(cfg Config) *Controller {
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.FinalizerTimeout == 0 {
		cfg.FinalizerTimeout = DefaultFinalizerTimeout
	}
	factory := informers.NewSharedInformerFactory(cfg.Ferry, 0)
	appInformer := factory.Gitops().V1alpha1().Applications()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		ferry:   cfg.Ferry,
		engine:  cfg.Engine,
		workers: cfg.Workers,
		lister:  appInformer.Lister(),
		synced:  appInformer.Informer().HasSynced,
		factory: factory,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "applications"}),
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ferry"}),
		live:     cfg.Live,
		shards:   cfg.Shards,

		finalizerTimeout: cfg.FinalizerTimeout,

		memory: map[string]*appMemory{},
	}
	if cfg.Kube != nil {
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Kube.CoreV1().Events("")})
		c.watchNamespaces(cfg.Kube)
	}
	controller.RegisterApplications(c.lister)
	c.watchSyncWindows(factory)
	informer := appInformer.Informer()
	_ = informer.AddIndexers(cache.Indexers{dependsOnIndex: indexByDependency, clusterIndex: indexByCluster})
	c.indexer = informer.GetIndexer()
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			c.enqueue(obj)
			if app, ok := obj.(*gitopsv1alpha1.Application); ok {
				c.enqueueDependents(informer.GetIndexer(), nil, app)
			}
		},
		UpdateFunc: func(oldObj, newObj interface{}) {
			old, cur := oldObj.(*gitopsv1alpha1.Application), newObj.(*gitopsv1alpha1.Application)
			if needsReconcile(old, cur) {
				c.enqueue(newObj)
			}
			c.enqueueDependents(informer.GetIndexer(), old, cur)
		},
		DeleteFunc: func(obj interface{}) {
			c.enqueue(obj)
			if app, ok := obj.(*gitopsv1alpha1.Application); ok {
				c.enqueueDependents(informer.GetIndexer(), app, nil)
			}
		},
	})
	return c
}

// watchNamespaces keeps a cache of the namespaces, and looks again at once at the Applications of
// a namespace whose deletion starts: they stop syncing.
func (c *Controller) watchNamespaces(kube kubernetes.Interface) {
	c.kubeFactory = kubeinformers.NewSharedInformerFactory(kube, 0)
	informer := c.kubeFactory.Core().V1().Namespaces()
	c.namespaces = informer.Lister()
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj interface{}) {
			old, cur := oldObj.(*corev1.Namespace), newObj.(*corev1.Namespace)
			if old.DeletionTimestamp != nil || cur.DeletionTimestamp == nil {
				return
			}
			apps, err := c.lister.Applications(cur.Name).List(labels.Everything())
			if err != nil {
				return
			}
			for _, app := range apps {
				c.enqueue(app)
			}
		},
	})
}

// needsReconcile filters out the updates the controller itself causes by writing status: those
// would otherwise start a reconcile after every reconcile.
func needsReconcile(old, cur *gitopsv1alpha1.Application) bool {
	switch {
	case old.Generation != cur.Generation:
		return true
	case cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil:
		return true
	case operationActive(cur) && !operationActive(old):
		return true
	case operationActive(cur) && old.Status.Operation.ID != cur.Status.Operation.ID:
		return true
	case old.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation] != cur.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation]:
		return true
	case newRefresh(old, cur):
		return true
	}
	return false
}

// newRefresh reports whether cur carries a refresh request old did not: POST .../refresh wrote
// status.refresh. The controller's own write that marks it handled is no new request.
func newRefresh(old, cur *gitopsv1alpha1.Application) bool {
	requested, pending := gitopsv1alpha1.PendingRefresh(cur)
	if !pending {
		return false
	}
	before, wasPending := gitopsv1alpha1.PendingRefresh(old)
	return !wasPending || !before.Equal(requested)
}

func operationActive(app *gitopsv1alpha1.Application) bool {
	return activeOperation(app) != nil
}

func (c *Controller) enqueue(obj interface{}) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// clusterIndex indexes Applications by spec.destination.cluster.
const clusterIndex = "destination.cluster"

func indexByCluster(obj any) ([]string, error) {
	if app, ok := obj.(*gitopsv1alpha1.Application); ok && app.Spec.Destination.Cluster != "" {
		return []string{app.Spec.Destination.Cluster}, nil
	}
	return nil, nil
}

// ClusterChanged is called when a Cluster's connection or readiness changed, or it was removed:
// every Application deploying there is reconciled again at once, so one that found it
// unreachable recovers without waiting for its retry.
func (c *Controller) ClusterChanged(cluster string) {
	apps, err := c.indexer.ByIndex(clusterIndex, cluster)
	if err != nil {
		return
	}
	for _, obj := range apps {
		c.enqueue(obj)
	}
}

// ShardsChanged is called when this replica's share of the Applications changed: each is looked
// at again, and kept or passed over as its cluster is this replica's or not.
func (c *Controller) ShardsChanged() {
	for _, obj := range c.indexer.List() {
		c.enqueue(obj)
	}
}

// ObjectChanged is called when a managed object of app changed in the cluster. Drift gets the
// Application compared again at once, not at its next interval; a status change (or Ferry's own
// write) gets only its health read again from the watch cache, with no Git or API request.
func (c *Controller) ObjectChanged(app apply.App, _ apply.ObjectRef, change drift.Change) {
	key := app.Key()
	c.markChanged(key, change == drift.Drifted)
	c.queue.Add(key)
}

// Run starts the informers and workers and blocks until ctx is done.
func (c *Controller) Run(ctx context.Context) error {
	defer c.events.Shutdown()
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithName("controller"))
	c.factory.Start(ctx.Done())
	synced := []cache.InformerSynced{c.synced, c.windowsSynced}
	if c.kubeFactory != nil {
		c.kubeFactory.Start(ctx.Done())
		defer c.kubeFactory.Shutdown()
		synced = append(synced, c.kubeFactory.Core().V1().Namespaces().Informer().HasSynced)
	}
	// This line says the Application controller runs in this replica: only the leader's (or,
	// with shards, every replica's) logs it.
	klog.FromContext(ctx).Info("Starting workers", "count", c.workers)
	return loop.Run(ctx, c.queue, c.reconcileKey, loop.Options{
		Synced:  synced,
		Workers: c.workers,
		KeyName: "application",
		// A status write, a finalizer update or a prune on deletion failed; the loop tries again
		// with the queue's backoff. A conflict only means someone wrote it meanwhile.
		Failed: func(ctx context.Context, _ string, err error) {
			if !apierrors.IsConflict(err) {
				utilruntime.HandleErrorWithContext(ctx, err, "Reconciling Application failed; retrying")
			}
		},
		Requeued: c.scheduled,
	})
}

// Result tells the worker when to look at an Application again.
type Result = loop.Result
