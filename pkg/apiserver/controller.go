package apiserver

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/ferry-gitops/ferry/pkg/controller"
	"github.com/ferry-gitops/ferry/pkg/controller/manager"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

// ControllerConfig configures the reconciling controller that runs inside the server.
type ControllerConfig struct {
	// Target is the cluster Applications deploy into; nil disables the controller.
	Target *rest.Config
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
	// Render replaces the renderer of repository paths; nil means Ferry's (kustomize or plain
	// manifests). Tests use it to make one Application's render misbehave.
	Render engine.RenderFunc
	// Builder runs kustomize; nil builds in the server's process. ferry-apiserver gives it a
	// pool of render workers.
	Builder render.Builder
	// Manager says which controllers run in this replica and how: workers, leader election,
	// shards, ApplicationSets' templates. The server gives it its clients, engine and clusters.
	Manager manager.Config
}

// buildEngine builds the engine the controller and the read subresources share (one Git cache,
// one render cache, one applier per identity) and the read policy over it. Nothing without a
// target cluster.
func (c completedConfig) buildEngine() error {
	cc := c.ExtraConfig.Controller
	if cc.Target == nil {
		return nil
	}
	kube, err := kubernetes.NewForConfig(cc.Target)
	if err != nil {
		return fmt.Errorf("building the target cluster client: %w", err)
	}
	cache, err := source.NewCache(source.Options{
		Dir: filepath.Clean(cc.GitCacheDir), AllowFile: cc.AllowFileRepositories, Timeout: cc.GitTimeout,
		MaxRepoBytes: cc.GitMaxRepositoryBytes, MaxCacheBytes: cc.GitCacheMaxBytes, UnusedGracePeriod: cc.GitCacheUnusedGrace,
		OnFetch: controller.ObserveGitFetch, Egress: cc.Egress,
	})
	if err != nil {
		return err
	}
	c.ExtraConfig.kube, c.ExtraConfig.clusters = kube, remote.NewRegistry(cc.Target.QPS, cc.Target.Burst)
	c.ExtraConfig.engine = engine.New(engine.Config{
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
	reads := c.ExtraConfig.Reads
	if reads.Timeout <= 0 {
		reads.Timeout = c.GenericConfig.RequestTimeout * 3 / 4
	}
	c.ExtraConfig.reads = application.NewEngineReader(c.ExtraConfig.engine, Scheme, reads)
	return nil
}

// startController is the post-start hook that runs the controllers (package manager) with the
// server's loopback client until the server stops.
func (c completedConfig) startController(hookCtx context.Context, loopback *rest.Config) error {
	cc := c.ExtraConfig.Controller
	if cc.Target == nil {
		klog.FromContext(hookCtx).WithName("controller").Info("No target cluster (--target-kubeconfig, --kubeconfig or in-cluster): serving the API without reconciling")
		return nil
	}
	ferry, err := versioned.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("building the loopback client: %w", err)
	}
	mc := cc.Manager
	mc.Ferry, mc.Target, mc.Kube, mc.Engine, mc.Clusters = ferry, cc.Target, c.ExtraConfig.kube, c.ExtraConfig.engine, c.ExtraConfig.clusters
	mc.ClusterCredentialsNamespace, mc.Tenancy, mc.GitCacheUnusedGrace = c.ExtraConfig.ClusterCredentialsNamespace, c.ExtraConfig.Tenancy, cc.GitCacheUnusedGrace
	mc.StopReconciling = c.GenericConfig.ShutdownInitiatedNotify()
	mc.Notifications = c.ExtraConfig.Notifications
	controllers, err := manager.New(mc)
	if err != nil {
		return err
	}
	go controllers.Run(hookCtx)
	return nil
}
