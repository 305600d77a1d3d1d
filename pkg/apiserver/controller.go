package apiserver

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller"
	"github.com/ferry-gitops/ferry/pkg/controller/appsets"
	clusterscontroller "github.com/ferry-gitops/ferry/pkg/controller/clusters"
	"github.com/ferry-gitops/ferry/pkg/controller/drift"
	"github.com/ferry-gitops/ferry/pkg/controller/leader"
	"github.com/ferry-gitops/ferry/pkg/controller/shard"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts"
	"github.com/ferry-gitops/ferry/pkg/gitops/clusters"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// ControllerConfig configures the reconciling controller that runs inside the server.
type ControllerConfig struct {
	// Target is the cluster Applications deploy into; nil disables the controller.
	Target *rest.Config
	// Workers is the number of Applications reconciled at once.
	Workers int
	// FinalizerTimeout bounds how long a deleted Application waits for its objects to be
	// pruned; 0 means controller.DefaultFinalizerTimeout.
	FinalizerTimeout time.Duration
	// GitCacheDir holds the shared bare-repository cache.
	GitCacheDir string
	// AllowFileRepositories admits file:// repositories.
	AllowFileRepositories bool
	// Egress is the policy of every Git, chart and OCI fetch; nil admits every address.
	Egress *egress.Policy
	// AllowRemoteBases lets kustomizations use remote bases.
	AllowRemoteBases bool
	// GitTimeout bounds one Git operation.
	GitTimeout time.Duration
	// GitMaxRepositoryBytes bounds one cached repository, GitCacheMaxBytes the whole cache (0:
	// no cap); GitCacheUnusedGrace is how long a repository no Application uses stays cached.
	GitMaxRepositoryBytes int64
	GitCacheMaxBytes      int64
	GitCacheUnusedGrace   time.Duration
	// LeaderElection elects the one replica whose controller runs.
	LeaderElection LeaderElectionConfig
	// Shards divides the Applications among the replicas by destination cluster: 0 or 1 keeps
	// one active controller (the leader's); N > 1 makes N shards; ShardsAuto one per live replica.
	Shards int
	// Render replaces the renderer of repository paths; nil means Ferry's (kustomize or plain
	// manifests). Tests use it to make one Application's render misbehave.
	Render engine.RenderFunc
	// Builder runs kustomize; nil builds in the server's process. ferry-apiserver gives it a
	// pool of render workers.
	Builder render.Builder
	// Templates makes ApplicationSets' Applications from their templates; nil runs them in the
	// server's process. ferry-apiserver runs them in its render workers.
	Templates func(tmpl gitopsv1alpha1.ApplicationSetTemplate, params []generators.Params) ([]*gitopsv1alpha1.Application, error)
}

// ShardsAuto makes one shard per live replica.
const ShardsAuto = -1

// LeaderElectionConfig configures the election of the active controller among the replicas of
// ferry-apiserver, through a coordination.k8s.io Lease named leader.DefaultLeaseName in the
// target cluster.
type LeaderElectionConfig struct {
	// Enabled runs the controller only while this replica holds the Lease; off, it always runs.
	Enabled bool
	// Name and Namespace of the Lease; an empty name means leader.DefaultLeaseName.
	Name      string
	Namespace string
	// Identity of this replica in the Lease; empty means leader.DefaultIdentity().
	Identity string
	// LeaseDuration, RenewDeadline and RetryPeriod are as in client-go's leaderelection.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// newEngine builds the engine the controller and the read subresources share: one Git cache,
// one render cache, one applier per identity. Nil without a target cluster.
func (c completedConfig) newEngine() (*engine.Engine, kubernetes.Interface, error) {
	cc := c.ExtraConfig.Controller
	if cc.Target == nil {
		return nil, nil, nil
	}
	kube, err := kubernetes.NewForConfig(cc.Target)
	if err != nil {
		return nil, nil, fmt.Errorf("building the target cluster client: %w", err)
	}
	cache, err := source.NewCache(source.Options{
		Dir: filepath.Clean(cc.GitCacheDir), AllowFile: cc.AllowFileRepositories, Timeout: cc.GitTimeout,
		MaxRepoBytes: cc.GitMaxRepositoryBytes, MaxCacheBytes: cc.GitCacheMaxBytes, UnusedGracePeriod: cc.GitCacheUnusedGrace,
		OnFetch: controller.ObserveGitFetch, Egress: cc.Egress,
	})
	if err != nil {
		return nil, nil, err
	}
	c.ExtraConfig.clusters = clusters.NewRegistry(cc.Target.QPS, cc.Target.Burst)
	eng := engine.New(engine.Config{
		Source:           cache,
		Charts:           charts.New(charts.Options{Timeout: cc.GitTimeout, Egress: cc.Egress}),
		Clusters:         c.ExtraConfig.clusters,
		Applier:          apply.NewApplier(cc.Target),
		AllowRemoteBases: cc.AllowRemoteBases,
		Render:           cc.Render,
		Builder:          cc.Builder,
		OnRender:         controller.ObserveRender,
		Tenancy:          c.ExtraConfig.Tenancy,
		Secrets: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		},
	})
	return eng, kube, nil
}

// startController is the post-start hook that runs the controller with the server's loopback
// client until the server stops.
//
// Without sharding the replica holding the leader Lease reconciles every Application. With
// sharding (ControllerConfig.Shards above 1, or ShardsAuto) every replica reconciles the Applications of
// the shards it holds (shard.Manager), and the leader alone runs what is not sharded: the
// ApplicationSets and the Clusters' status.
func (c completedConfig) startController(hookCtx context.Context, loopback *rest.Config) error {
	cc := c.ExtraConfig.Controller
	logger := klog.FromContext(hookCtx).WithName("controller")
	if cc.Target == nil {
		logger.Info("No target cluster (--target-kubeconfig, --kubeconfig or in-cluster): serving the API without reconciling")
		return nil
	}
	ferry, err := versioned.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("building the loopback client: %w", err)
	}
	kube, eng, registry := c.ExtraConfig.kube, c.ExtraConfig.engine, c.ExtraConfig.clusters
	// Every replica has its own Git cache (it serves /diff and /manifests), so every replica
	// collects it, leading or not.
	go collectGitCache(hookCtx, ferry, eng, cc.GitCacheUnusedGrace)

	le := cc.LeaderElection
	if le.Name == "" {
		le.Name = leader.DefaultLeaseName
	}
	if le.Identity == "" {
		le.Identity = leader.DefaultIdentity()
	}
	sharded := cc.Shards > 1 || cc.Shards == ShardsAuto

	// current is the Application controller running now (nil between terms); fleet its watches.
	// The Cluster controller and the shards tell them of changes.
	var current atomic.Pointer[controller.Controller]
	var currentFleet atomic.Pointer[drift.Fleet]
	// Every replica keeps the registry of clusters for the reads it serves; the leader alone
	// writes the Clusters' status.
	var leading atomic.Bool
	leading.Store(!le.Enabled)
	clusterCtrl := clusterscontroller.New(clusterscontroller.Config{
		Ferry: ferry, Kube: kube, Registry: registry,
		Namespace: c.ExtraConfig.Clusters.CredentialsNamespace, ProbeInterval: c.ExtraConfig.Clusters.ProbeInterval,
		WriteStatus: leading.Load,
		OnChange: func(name string) {
			if f := currentFleet.Load(); f != nil {
				f.Forget(name)
			}
			if ctrl := current.Load(); ctrl != nil {
				ctrl.ClusterChanged(name)
			}
		},
	})
	go clusterCtrl.Run(klog.NewContext(hookCtx, logger))

	// Lease requests time out well within the renew deadline, so that one hung request does not
	// cost the lease.
	leaseConfig := rest.CopyConfig(cc.Target)
	leaseConfig.Timeout = leader.ClientTimeout(le.RenewDeadline)
	rest.AddUserAgent(leaseConfig, "leader-election")
	leaseClient, err := kubernetes.NewForConfig(leaseConfig)
	if err != nil {
		return fmt.Errorf("building the leader election client: %w", err)
	}
	if err := leader.ValidateTimings(le.LeaseDuration, le.RenewDeadline, le.RetryPeriod); err != nil && (le.Enabled || sharded) {
		return fmt.Errorf("leader election: %w", err)
	}

	var shards *shard.Manager
	if sharded {
		shards = shard.New(shard.Config{
			Leases: leaseClient.CoordinationV1(), Namespace: le.Namespace, Identity: le.Identity, Shards: max(cc.Shards, 0), // ShardsAuto: zero, one per live replica
			LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
			Clusters: registry.Names,
			OnChange: func() {
				if ctrl := current.Load(); ctrl != nil {
					ctrl.ShardsChanged()
				}
			},
		})
	}
	// newController builds the Application controller and the watches of managed objects that
	// report drift to it; each term gets fresh ones, as neither can run twice.
	newController := func() (*controller.Controller, *drift.Fleet, error) {
		// The controller reports drift to itself through the watches; break the cycle with a
		// forwarding function set once both exist.
		var ctrl *controller.Controller
		onChange := func(app apply.App, ref apply.ObjectRef, change drift.Change) {
			if ctrl != nil {
				ctrl.ObjectChanged(app, ref, change)
			}
		}
		watcher, err := drift.NewWatcher(cc.Target, onChange)
		if err != nil {
			return nil, nil, fmt.Errorf("setting up watches of managed objects: %w", err)
		}
		fleet := drift.NewFleet(watcher, registry.Config, onChange)
		cfg := controller.Config{Ferry: ferry, Kube: kube, Engine: eng, Workers: cc.Workers, Live: fleet, FinalizerTimeout: cc.FinalizerTimeout}
		if shards != nil {
			cfg.Shards = shards
		}
		ctrl = controller.New(cfg)
		return ctrl, fleet, nil
	}
	// runApps reconciles Applications until ctx is done, watching managed objects only meanwhile.
	runApps := func(ctx context.Context) error {
		ctrl, fleet, err := newController()
		if err != nil {
			return err
		}
		ctx = klog.NewContext(ctx, logger)
		fleet.Start(ctx)
		current.Store(ctrl)
		currentFleet.Store(fleet)
		defer func() {
			current.CompareAndSwap(ctrl, nil)
			currentFleet.CompareAndSwap(fleet, nil)
		}()
		if err := ctrl.Run(ctx); err != nil {
			logger.Error(err, "The controller stopped")
		}
		return nil
	}
	// lead is what only the leader runs: the ApplicationSets (they write Applications), the
	// Clusters' status, and, unsharded, the Applications.
	lead := func(ctx context.Context) {
		leading.Store(true)
		defer leading.Store(!le.Enabled)
		setsDone := make(chan struct{})
		go func() {
			defer close(setsDone)
			appsets.New(appsets.Config{Ferry: ferry, Kube: kube, Engine: eng, Tenancy: c.ExtraConfig.Tenancy, Templates: cc.Templates}).Run(klog.NewContext(ctx, logger))
		}()
		defer func() { <-setsDone }()
		if sharded {
			<-ctx.Done()
			return
		}
		if err := runApps(ctx); err != nil {
			logger.Error(err, "Cannot build the controller")
		}
	}

	// Stop reconciling as soon as shutdown begins, while the API still serves the controller's
	// last writes; Leases are released once the controller has stopped, so another replica takes
	// over at once.
	ctx, cancel := context.WithCancel(klog.NewContext(hookCtx, logger))
	go func() {
		defer cancel()
		select {
		case <-c.GenericConfig.ShutdownInitiatedNotify():
		case <-ctx.Done():
		}
	}()
	if sharded {
		// Built before it runs, so that a failure to watch is an error of the hook.
		go shards.Run(ctx)
		go func() {
			if err := runApps(ctx); err != nil {
				logger.Error(err, "Cannot build the controller")
			}
		}()
	}
	if !le.Enabled {
		go lead(ctx)
		return nil
	}
	election := leader.Config{
		Client:        leaseClient.CoordinationV1(),
		Namespace:     le.Namespace,
		Name:          le.Name,
		Identity:      le.Identity,
		LeaseDuration: le.LeaseDuration,
		RenewDeadline: le.RenewDeadline,
		RetryPeriod:   le.RetryPeriod,
	}
	go func() {
		if err := leader.Run(ctx, election, lead); err != nil {
			logger.Error(err, "Leader election failed: this replica never leads")
		}
	}()
	return nil
}

// collectGitCache removes from the Git cache the repositories no Application names, once
// unused for the grace period, and the least recently used ones past the cache's size cap, and
// from the chart cache the listings of repositories no Application names, checking every half
// grace period (at most a minute) until ctx ends.
func collectGitCache(ctx context.Context, ferry versioned.Interface, eng *engine.Engine, grace time.Duration) {
	cache := eng.Source()
	logger := klog.FromContext(ctx).WithName("git-cache")
	interval := min(max(grace/2, 100*time.Millisecond), time.Minute)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		// From the watch cache: every Application, cheaply.
		apps, err := ferry.GitopsV1alpha1().Applications(metav1.NamespaceAll).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			logger.V(2).Info("Cannot list Applications to collect the Git cache; trying again later", "err", err)
			return
		}
		inUse := make(map[string]bool, len(apps.Items))
		for _, app := range apps.Items {
			for _, src := range engine.Sources(&app) {
				inUse[src.RepoURL] = true
			}
		}
		if _, err := cache.Collect(inUse); err != nil {
			logger.Error(err, "Collecting the Git cache")
		}
		if c := eng.Charts(); c != nil {
			c.Forget(func(repoURL string) bool { return inUse[repoURL] })
		}
	}, interval)
}
