package manager

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

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
