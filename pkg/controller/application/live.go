package application

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
)

// cachedOn returns a reader of managed objects from the watch cache of a cluster, when the
// controller keeps one.
func (c *Controller) cachedOn(cluster string) func(apply.ObjectRef) (*unstructured.Unstructured, bool) {
	return func(ref apply.ObjectRef) (*unstructured.Unstructured, bool) {
		if c.live == nil {
			return nil, false
		}
		return c.live.Get(cluster, ref)
	}
}

// healthOf judges app's managed objects from the watch cache when it has the object's kind, else
// from the cluster, read as the Application's identity.
func (c *Controller) healthOf(app *gitopsv1alpha1.Application) engine.HealthFunc {
	as, asErr := c.engine.ActorOf(app)
	cluster := app.Spec.Destination.Cluster
	return func(ctx context.Context, ref apply.ObjectRef) health.Status {
		if asErr != nil {
			return health.Status{Code: gitopsv1alpha1.HealthUnknown, Message: asErr.Error()}
		}
		gvk := schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind}
		if c.live != nil && c.live.Synced(cluster, gvk) {
			if live, ok := c.live.Get(cluster, ref); ok {
				return health.Of(live)
			}
			// Not in the cache: either gone or not yet seen after an apply a moment ago; ask.
		}
		return engine.LiveHealth(ctx, as, ref)
	}
}

// watch makes sure every kind the Application manages is watched on its cluster, so a change to any of its
// objects is seen at once.
func (c *Controller) watch(ctx context.Context, cluster string, desired []*unstructured.Unstructured) {
	if c.live == nil {
		return
	}
	seen := map[schema.GroupVersionKind]bool{}
	var gvks []schema.GroupVersionKind
	for _, o := range desired {
		gvk := o.GroupVersionKind()
		if !seen[gvk] {
			seen[gvk] = true
			gvks = append(gvks, gvk)
		}
	}
	if err := c.live.Watch(cluster, gvks...); err != nil {
		// Kinds whose CRD comes with this set appear after the apply; the next reconcile
		// watches them.
		klog.FromContext(ctx).V(2).Info("Not every managed kind can be watched yet", "err", err)
	}
}
