// Package manager runs Ferry's controllers inside ferry-apiserver and decides which of them run
// in this replica: leader election (one Lease, --leader-elect), shards (--shards) and the
// controllers of Applications, ApplicationSets and Clusters.
//
// Every replica serves the API, and so keeps the registry of clusters and the Git cache the
// reads use. The leader alone runs what is not sharded: the ApplicationSets and the Clusters'
// status. Without sharding the leader reconciles every Application too; with sharding every
// replica reconciles the Applications of the shards it holds.
package manager

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/application"
	"github.com/ferry-gitops/ferry/pkg/controller/applicationset"
	"github.com/ferry-gitops/ferry/pkg/controller/cluster"
	"github.com/ferry-gitops/ferry/pkg/controller/leader"
	"github.com/ferry-gitops/ferry/pkg/controller/receiver"
	"github.com/ferry-gitops/ferry/pkg/controller/shard"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// DefaultFinalizerTimeout is how long a deleted Application waits for its objects to be pruned
// when Config.FinalizerTimeout is zero (ferry-apiserver --finalizer-timeout's default).
const DefaultFinalizerTimeout = application.DefaultFinalizerTimeout

// ShardsAuto makes one shard per live replica.
const ShardsAuto = -1

// Config is what the manager runs the controllers with.
type Config struct {
	// Ferry reads and writes Ferry's own objects: the server's loopback client.
	Ferry versioned.Interface
	// Target is the cluster Applications deploy into (watches of managed objects, Leases);
	// Kube is its client.
	Target *rest.Config
	Kube   kubernetes.Interface
	// Engine resolves, renders and applies; shared with the server's reads.
	Engine *engine.Engine
	// Clusters is the registry of remote clusters' connections the Cluster controller keeps,
	// shared with the engine and so with the reads.
	Clusters *remote.Registry
	// ClusterCredentialsNamespace is where Clusters' credentials Secrets live;
	// ClusterProbeInterval how often each Cluster is probed (zero: 30s).
	ClusterCredentialsNamespace string
	ClusterProbeInterval        time.Duration
	// Tenancy says which ServiceAccount an ApplicationSet's Applications act as.
	Tenancy tenancy.Policy
	// Templates makes ApplicationSets' Applications from their templates; nil runs them in this
	// process.
	Templates func(tmpl v1alpha1.ApplicationSetTemplate, params []generators.Params) ([]*v1alpha1.Application, error)
	// ApplicationWorkers, ApplicationSetWorkers and ClusterWorkers are how many Applications,
	// ApplicationSets and Clusters each controller reconciles at once (zero: the controller's
	// default).
	ApplicationWorkers    int
	ApplicationSetWorkers int
	ClusterWorkers        int
	// FinalizerTimeout bounds how long a deleted Application waits for its objects to be
	// pruned (zero: the default).
	FinalizerTimeout time.Duration
	// GitCacheUnusedGrace is how long a repository no Application uses stays cached.
	GitCacheUnusedGrace time.Duration
	// LeaderElection elects the one replica that runs what is not sharded.
	LeaderElection LeaderElection
	// Shards divides the Applications among the replicas by destination cluster: 0 or 1 keeps
	// one active controller (the leader's); N > 1 makes N shards; ShardsAuto one per live replica.
	Shards int
	// WebhookBindAddress, when set, is where every replica serves Receivers' webhooks
	// (pkg/webhook); empty serves none.
	WebhookBindAddress string
	// StopReconciling is closed when the server begins to shut down. Reconciling stops then,
	// while the API still serves the controller's last writes, and the Leases are released once
	// it has stopped, so another replica takes over at once. What serves reads (the clusters'
	// registry, the Git cache's collection) runs until Run's context ends.
	StopReconciling <-chan struct{}
	// Notifications is the notification address policy Alerts deliver under
	// (--notification-allowed-cidrs); nil is the default one.
	Notifications *egress.Policy
}

// LeaderElection configures the election of the active controller among the replicas of
// ferry-apiserver, through a coordination.k8s.io Lease in the target cluster.
type LeaderElection struct {
	// Enabled runs the leader's work only while this replica holds the Lease; off, it always runs.
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

// Manager runs the controllers of one replica; see the package's documentation.
type Manager struct {
	cfg    Config
	logger klog.Logger
	// leases reads and writes the election's and the shards' Leases.
	leases kubernetes.Interface
	// shards is this replica's share of the Applications; nil unsharded.
	shards *shard.Manager
	// clusters keeps the registry of clusters' connections, in every replica.
	clusters *cluster.Controller
	// leading is whether this replica runs the leader's work now; the Cluster controller asks
	// it before writing a Cluster's status, from its own goroutines.
	leading atomic.Bool
	// running is the Application controller of the current term and its watches, nil between
	// terms; the Cluster controller and the shards tell it of changes from their goroutines.
	running atomic.Pointer[applicationTerm]
}

// New checks the configuration and builds the manager; nothing runs before Run.
func New(cfg Config) (*Manager, error) {
	if cfg.Target == nil {
		return nil, errors.New("the controllers need a target cluster")
	}
	le := &cfg.LeaderElection
	if le.Name == "" {
		le.Name = leader.DefaultLeaseName
	}
	if le.Identity == "" {
		le.Identity = leader.DefaultIdentity()
	}
	m := &Manager{cfg: cfg}
	m.leading.Store(!le.Enabled)
	// Lease requests time out well within the renew deadline, so that one hung request does not
	// cost the lease.
	leaseConfig := rest.CopyConfig(cfg.Target)
	leaseConfig.Timeout = leader.ClientTimeout(le.RenewDeadline)
	rest.AddUserAgent(leaseConfig, "leader-election")
	var err error
	if m.leases, err = kubernetes.NewForConfig(leaseConfig); err != nil {
		return nil, fmt.Errorf("building the leader election client: %w", err)
	}
	sharded := cfg.Shards > 1 || cfg.Shards == ShardsAuto
	if err := leader.ValidateTimings(le.LeaseDuration, le.RenewDeadline, le.RetryPeriod); err != nil && (le.Enabled || sharded) {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	if sharded {
		m.shards = shard.New(shard.Config{
			Leases: m.leases.CoordinationV1(), Namespace: le.Namespace, Identity: le.Identity, Shards: max(cfg.Shards, 0), // ShardsAuto: zero, one per live replica
			LeaseDuration: le.LeaseDuration, RenewDeadline: le.RenewDeadline, RetryPeriod: le.RetryPeriod,
			Clusters: cfg.Clusters.Names,
			OnChange: m.shardsChanged,
		})
	}
	m.clusters = cluster.New(cluster.Config{
		Ferry: cfg.Ferry, Kube: cfg.Kube, Registry: cfg.Clusters,
		Namespace: cfg.ClusterCredentialsNamespace, ProbeInterval: cfg.ClusterProbeInterval, Workers: cfg.ClusterWorkers,
		WriteStatus: m.leading.Load,
		OnChange:    m.clusterChanged,
	})
	return m, nil
}

// Run runs the controllers this replica runs until ctx ends, and returns once they have
// stopped.
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	// Every replica has its own Git cache (it serves /diff and /manifests), so every replica
	// collects it, leading or not. It gets a context of its own: ctx is reassigned below while
	// the collection already runs.
	serving := ctx
	wg.Go(func() { collectGitCache(serving, m.cfg.Ferry, m.cfg.Engine, m.cfg.GitCacheUnusedGrace) })
	m.logger = klog.FromContext(ctx).WithName("controller")
	ctx = klog.NewContext(ctx, m.logger)
	wg.Go(func() { m.clusters.Run(ctx) })
	if m.cfg.WebhookBindAddress != "" {
		wg.Go(func() { m.serveWebhooks(ctx) })
	}

	reconcile, stop := context.WithCancel(ctx)
	defer stop()
	wg.Go(func() {
		select {
		case <-m.cfg.StopReconciling:
			stop()
		case <-reconcile.Done():
		}
	})
	if m.shards != nil {
		wg.Go(func() { m.shards.Run(reconcile) })
		wg.Go(func() { m.runApplications(reconcile) })
	}
	wg.Go(func() { m.elect(reconcile) })
	wg.Wait()
}

// elect runs the leader's work while this replica leads: always without leader election,
// otherwise for each term it holds the Lease.
func (m *Manager) elect(ctx context.Context) {
	le := m.cfg.LeaderElection
	if !le.Enabled {
		m.lead(ctx)
		return
	}
	election := leader.Config{
		Client:        m.leases.CoordinationV1(),
		Namespace:     le.Namespace,
		Name:          le.Name,
		Identity:      le.Identity,
		LeaseDuration: le.LeaseDuration,
		RenewDeadline: le.RenewDeadline,
		RetryPeriod:   le.RetryPeriod,
	}
	if err := leader.Run(ctx, election, m.lead); err != nil {
		m.logger.Error(err, "Leader election failed: this replica never leads")
	}
}

// lead is one term of what only the leader runs: the ApplicationSets (they write
// Applications), the Clusters' and Receivers' status, and, unsharded, the Applications.
func (m *Manager) lead(ctx context.Context) {
	m.leading.Store(true)
	defer m.leading.Store(!m.cfg.LeaderElection.Enabled)
	// The leader election's logger names the Lease; the controllers log as the manager does.
	ctx = klog.NewContext(ctx, m.logger)
	var sets sync.WaitGroup
	defer sets.Wait()
	sets.Go(func() { receiver.New(receiver.Config{Ferry: m.cfg.Ferry, Kube: m.cfg.Kube}).Run(ctx) })
	sets.Go(func() {
		applicationset.New(applicationset.Config{
			Ferry: m.cfg.Ferry, Kube: m.cfg.Kube, Engine: m.cfg.Engine, Tenancy: m.cfg.Tenancy, Templates: m.cfg.Templates,
			Workers: m.cfg.ApplicationSetWorkers,
		}).Run(ctx)
	})
	if m.shards != nil {
		<-ctx.Done()
		return
	}
	m.runApplications(ctx)
}
