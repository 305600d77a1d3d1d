package apiserver

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/ferry-gitops/ferry/pkg/controller"
	"github.com/ferry-gitops/ferry/pkg/controller/drift"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ControllerConfig configures the reconciling controller that runs inside the server.
type ControllerConfig struct {
	// Target is the cluster Applications deploy into; nil disables the controller.
	Target *rest.Config
	// Workers is the number of Applications reconciled at once.
	Workers int
	// GitCacheDir holds the shared bare-repository cache.
	GitCacheDir string
	// AllowFileRepositories admits file:// repositories.
	AllowFileRepositories bool
	// AllowRemoteBases lets kustomizations use remote bases.
	AllowRemoteBases bool
	// GitTimeout bounds one Git operation.
	GitTimeout time.Duration
}

// startController is the post-start hook that runs the controller with the server's loopback
// client until the server stops.
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
	kube, err := kubernetes.NewForConfig(cc.Target)
	if err != nil {
		return fmt.Errorf("building the target cluster client: %w", err)
	}
	cache, err := source.NewCache(source.Options{
		Dir: filepath.Clean(cc.GitCacheDir), AllowFile: cc.AllowFileRepositories, Timeout: cc.GitTimeout,
		OnFetch: controller.ObserveGitFetch,
	})
	if err != nil {
		return err
	}
	eng := engine.New(engine.Config{
		Source:           cache,
		Applier:          apply.NewApplier(cc.Target),
		AllowRemoteBases: cc.AllowRemoteBases,
		Secrets: func(ctx context.Context, namespace, name string) (map[string][]byte, error) {
			s, err := kube.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			return s.Data, nil
		},
	})
	// The controller reports drift to itself through the watcher; break the cycle with a
	// forwarding function set once both exist.
	var ctrl *controller.Controller
	watcher, err := drift.NewWatcher(cc.Target, func(app apply.App, ref apply.ObjectRef) {
		if ctrl != nil {
			ctrl.ObjectChanged(app, ref)
		}
	})
	if err != nil {
		return fmt.Errorf("setting up watches of managed objects: %w", err)
	}
	ctrl = controller.New(controller.Config{Ferry: ferry, Kube: kube, Engine: eng, Workers: cc.Workers, Live: watcher})
	watcher.Start(hookCtx)
	go func() {
		ctx := klog.NewContext(hookCtx, logger)
		if err := ctrl.Run(ctx); err != nil {
			logger.Error(err, "The controller stopped")
		}
	}()
	return nil
}
