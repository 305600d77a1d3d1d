// Package cluster is the controller of Cluster objects: it keeps the registry of remote
// clusters (remote.Registry) in step with the Clusters and their credentials Secrets, probes
// each cluster at an interval and on every change, and writes what it saw to the Cluster's
// status: Ready, the Kubernetes version, the last probe time and how many Applications target
// it.
package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/loop"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
	informers "github.com/ferry-gitops/ferry/pkg/generated/informers/externalversions"
	listers "github.com/ferry-gitops/ferry/pkg/generated/listers/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
)

// Config holds what the Cluster controller needs.
type Config struct {
	// Ferry is the client of Ferry's own API.
	Ferry versioned.Interface
	// Kube is the client of the cluster Ferry runs in: the credentials Secrets, Events.
	Kube kubernetes.Interface
	// Registry is fed with each Cluster's connection and readiness.
	Registry *remote.Registry
	// Namespace holds the credentials Secrets (Ferry's own).
	Namespace string
	// ProbeInterval is how often each cluster is probed; zero means 30s.
	ProbeInterval time.Duration
	// Workers is how many clusters are probed at once; zero means 4. One cluster is never
	// probed twice at once.
	Workers int
	// WriteStatus says whether this replica writes status now (it leads); nil means always.
	// Every replica keeps its registry, for the reads it serves.
	WriteStatus func() bool
	// OnChange is told the name of a cluster whose connection or readiness changed, or that
	// was removed; its Applications need a new look.
	OnChange func(cluster string)
}

// Controller reconciles Clusters.
type Controller struct {
	cfg      Config
	clusters listers.ClusterLister
	apps     cache.Indexer
	secrets  corelisters.SecretNamespaceLister
	synced   []cache.InformerSynced
	factory  informers.SharedInformerFactory
	appsInf  informers.SharedInformerFactory
	kubeInf  kubeinformers.SharedInformerFactory
	queue    workqueue.TypedRateLimitingInterface[string]
	recorder record.EventRecorder
	events   record.EventBroadcaster

	mu sync.Mutex
	// probed is, per cluster, when it was last probed and with which spec generation and Secret
	// version: a change of either probes at once, anything else waits for the interval.
	probed map[string]probe
}

type probe struct {
	at      time.Time
	version string // generation/secret resourceVersion
}

// clusterIndex indexes Applications by spec.destination.cluster.
const clusterIndex = "destination.cluster"

// New builds the controller; Run starts it.
func New(cfg Config) *Controller {
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 30 * time.Second
	}
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	factory := informers.NewSharedInformerFactory(cfg.Ferry, 0)
	// Only the Applications that target another cluster: the counts need no others, and this
	// replica decodes no event of the rest.
	remoteApps := informers.NewSharedInformerFactoryWithOptions(cfg.Ferry, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermNotEqualSelector(gitopsv1alpha1.FieldCluster, "").String()
	}))
	kubeInf := kubeinformers.NewSharedInformerFactoryWithOptions(cfg.Kube, 0, kubeinformers.WithNamespace(cfg.Namespace))
	clusterInf := factory.Gitops().V1alpha1().Clusters()
	appInf := remoteApps.Gitops().V1alpha1().Applications()
	secretInf := kubeInf.Core().V1().Secrets()
	broadcaster := record.NewBroadcaster()
	c := &Controller{
		cfg:      cfg,
		clusters: clusterInf.Lister(),
		apps:     appInf.Informer().GetIndexer(),
		secrets:  secretInf.Lister().Secrets(cfg.Namespace),
		synced:   []cache.InformerSynced{clusterInf.Informer().HasSynced, appInf.Informer().HasSynced, secretInf.Informer().HasSynced},
		factory:  factory,
		appsInf:  remoteApps,
		kubeInf:  kubeInf,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "clusters"}),
		events:   broadcaster,
		recorder: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "ferry"}),
		probed:   map[string]probe{},
	}
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: cfg.Kube.CoreV1().Events("")})
	_, _ = clusterInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueCluster(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueCluster(obj) },
		DeleteFunc: func(obj any) { c.enqueueCluster(obj) },
	})
	_, _ = secretInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueueUsersOf(obj) },
		UpdateFunc: func(_, obj any) { c.enqueueUsersOf(obj) },
		DeleteFunc: func(obj any) { c.enqueueUsersOf(obj) },
	})
	_ = appInf.Informer().AddIndexers(cache.Indexers{clusterIndex: func(obj any) ([]string, error) {
		if app, ok := obj.(*gitopsv1alpha1.Application); ok && app.Spec.Destination.Cluster != "" {
			return []string{app.Spec.Destination.Cluster}, nil
		}
		return nil, nil
	}})
	// Applications only change a Cluster's count: enqueued, they are recounted, not probed.
	_, _ = appInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueueTarget(obj) },
		UpdateFunc: func(old, obj any) {
			c.enqueueTarget(old)
			c.enqueueTarget(obj)
		},
		DeleteFunc: func(obj any) { c.enqueueTarget(obj) },
	})
	return c
}

func (c *Controller) enqueueCluster(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if cl, ok := obj.(*gitopsv1alpha1.Cluster); ok {
		c.queue.Add(cl.Name)
	}
}

func (c *Controller) enqueueTarget(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if app, ok := obj.(*gitopsv1alpha1.Application); ok && app.Spec.Destination.Cluster != "" {
		c.queue.Add(app.Spec.Destination.Cluster)
	}
}

// enqueueUsersOf enqueues the Clusters whose credentialsRef names a Secret that changed.
func (c *Controller) enqueueUsersOf(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return
	}
	all, _ := c.clusters.List(labels.Everything())
	for _, cl := range all {
		if cl.Spec.CredentialsRef.Name == s.Name {
			c.queue.Add(cl.Name)
		}
	}
}

// Run starts the informers and workers and blocks until ctx is done. Probes run one at a time
// per cluster, several clusters at once: one unreachable cluster waiting for its timeout does
// not hold the others back.
func (c *Controller) Run(ctx context.Context) {
	defer c.events.Shutdown()
	ctx = klog.NewContext(ctx, klog.FromContext(ctx).WithName("clusters"))
	c.factory.Start(ctx.Done())
	c.appsInf.Start(ctx.Done())
	c.kubeInf.Start(ctx.Done())
	_ = loop.Run(ctx, c.queue, func(ctx context.Context, name string) (loop.Result, error) {
		after, err := c.reconcile(ctx, name)
		return loop.Result{RequeueAfter: after}, err
	}, loop.Options{Synced: c.synced, Workers: c.cfg.Workers, KeyName: "cluster"})
}

// reconcile brings one cluster's registry entry and status up to date, and says when to look
// again.
func (c *Controller) reconcile(ctx context.Context, name string) (time.Duration, error) {
	cl, err := c.clusters.Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.probed, name)
		c.mu.Unlock()
		if c.cfg.Registry.Remove(name) {
			c.changed(name)
		}
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	version := fmt.Sprint(cl.Generation)
	secret, secretErr := c.secrets.Get(cl.Spec.CredentialsRef.Name)
	if secretErr == nil {
		version += "/" + secret.ResourceVersion
	}
	c.mu.Lock()
	last, probedBefore := c.probed[name]
	c.mu.Unlock()
	if probedBefore && last.version == version && time.Since(last.at) < c.cfg.ProbeInterval {
		// Only an Application came or went: recount.
		return c.cfg.ProbeInterval - time.Since(last.at), c.writeStatus(ctx, cl, nil)
	}

	st := cl.Status.DeepCopy()
	now := metav1.Now()
	st.LastProbeTime = &now
	st.ObservedGeneration = cl.Generation
	ready := metav1.Condition{Type: gitopsv1alpha1.ClusterConditionReady, ObservedGeneration: cl.Generation}
	conn, connErr := c.connection(cl, secret, secretErr)
	if connErr != nil {
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, gitopsv1alpha1.ReasonClusterCredentialsError, connErr.Error()
		if c.cfg.Registry.Unusable(name, connErr.Error()) {
			c.changed(name)
		}
	} else {
		if c.cfg.Registry.Set(name, conn) {
			c.changed(name)
		}
		cfg, _ := c.cfg.Registry.ProbeConfig(name)
		v, reason, err := remote.Probe(ctx, cfg, min(10*time.Second, c.cfg.ProbeInterval))
		ready.Reason = reason
		if err != nil {
			ready.Status, ready.Message = metav1.ConditionFalse, err.Error()
		} else {
			ready.Status, ready.Message = metav1.ConditionTrue, "reached "+cl.Spec.Server
			st.KubernetesVersion = v
		}
		if c.cfg.Registry.SetReady(name, err == nil, ready.Message) {
			c.changed(name)
		}
	}
	c.mu.Lock()
	c.probed[name] = probe{at: time.Now(), version: version}
	c.mu.Unlock()
	if prev := meta.FindStatusCondition(cl.Status.Conditions, ready.Type); prev == nil || prev.Status != ready.Status || prev.Reason != ready.Reason {
		if ready.Status == metav1.ConditionTrue {
			c.recorder.Eventf(cl, corev1.EventTypeNormal, ready.Reason, "Cluster is Ready: %s", ready.Message)
		} else {
			c.recorder.Eventf(cl, corev1.EventTypeWarning, ready.Reason, "Cluster is not Ready: %s", ready.Message)
		}
	}
	meta.SetStatusCondition(&st.Conditions, ready)
	return c.cfg.ProbeInterval, c.writeStatus(ctx, cl, st)
}

// connection reads a Cluster's credentials into a connection; the error says what to fix and
// never quotes the Secret.
func (c *Controller) connection(cl *gitopsv1alpha1.Cluster, secret *corev1.Secret, secretErr error) (remote.Connection, error) {
	ref := c.cfg.Namespace + "/" + cl.Spec.CredentialsRef.Name
	if apierrors.IsNotFound(secretErr) {
		return remote.Connection{}, fmt.Errorf("the Secret %s of spec.credentialsRef does not exist: create it with a token, or tls.crt and tls.key", ref)
	}
	if secretErr != nil {
		return remote.Connection{}, fmt.Errorf("reading the Secret %s of spec.credentialsRef: %w", ref, secretErr)
	}
	conn, err := remote.ConnectionFor(cl.Spec, secret.Data)
	if err != nil {
		return remote.Connection{}, fmt.Errorf("the Secret %s of spec.credentialsRef %w", ref, err)
	}
	return conn, nil
}

// writeStatus writes st (nil: the current status) with the count of Applications targeting
// the cluster, when it changed and this replica writes status.
func (c *Controller) writeStatus(ctx context.Context, cl *gitopsv1alpha1.Cluster, st *gitopsv1alpha1.ClusterStatus) error {
	if c.cfg.WriteStatus != nil && !c.cfg.WriteStatus() {
		return nil
	}
	if st == nil {
		st = cl.Status.DeepCopy()
	}
	apps, err := c.apps.ByIndex(clusterIndex, cl.Name)
	if err != nil {
		return err
	}
	st.Applications = int32(len(apps))
	if apiequality.Semantic.DeepEqual(*st, cl.Status) {
		return nil
	}
	updated := cl.DeepCopy()
	updated.Status = *st
	_, err = c.cfg.Ferry.GitopsV1alpha1().Clusters().UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: "ferry"})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (c *Controller) changed(name string) {
	if c.cfg.OnChange != nil {
		c.cfg.OnChange(name)
	}
}
