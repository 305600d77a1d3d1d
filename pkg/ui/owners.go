package ui

import (
	"context"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// resourceNames remembers, per API group/version, the resource each kind is served as, so that a
// live page does not ask discovery again at every change.
type resourceNames struct {
	mu    sync.Mutex
	byGV  map[schema.GroupVersion]map[string]string
	known map[schema.GroupVersion]bool
}

// owners maps the key of each SharedResource of app to the Application that manages it, read from
// the object's tracking annotation as the person using the UI. An object the person may not read,
// or that lives on another cluster, is left out: the page then says only that another Application
// manages it, as the status does.
func (s *Server) owners(ctx context.Context, app *gitopsv1alpha1.Application) map[string]string {
	if s.cfg.Metadata == nil || s.cfg.Kube == nil || app.Spec.Destination.Cluster != "" {
		return nil
	}
	var out map[string]string
	for _, res := range app.Status.Resources {
		if res.Status != gitopsv1alpha1.SyncStatusSharedResource {
			continue
		}
		gv := schema.GroupVersion{Group: res.Group, Version: res.Version}
		resource, ok := s.resourceFor(gv, res.Kind)
		if !ok {
			continue
		}
		obj, err := s.cfg.Metadata.Resource(gv.WithResource(resource)).Namespace(res.Namespace).Get(ctx, res.Name, metav1.GetOptions{})
		if err != nil {
			klog.V(4).InfoS("reading a shared object's owner", "object", res.Kind+" "+res.Namespace+"/"+res.Name, "err", err)
			continue
		}
		if owner := trackedBy(obj.GetAnnotations()[gitopsv1alpha1.TrackingAnnotation]); owner != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[resourceKey(res.Group, res.Kind, res.Namespace, res.Name)] = owner
		}
	}
	return out
}

// trackedBy is the namespace/name of the Application a tracking annotation names.
func trackedBy(tracking string) string {
	app, _, _ := strings.Cut(tracking, ":")
	return app
}

// resourceFor is the resource kind is served as in gv, from discovery.
func (s *Server) resourceFor(gv schema.GroupVersion, kind string) (string, bool) {
	n := &s.names
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.known[gv] {
		list, err := s.cfg.Kube.Discovery().ServerResourcesForGroupVersion(gv.String())
		if err != nil {
			klog.V(4).InfoS("discovering resources", "groupVersion", gv.String(), "err", err)
			return "", false
		}
		kinds := map[string]string{}
		for _, r := range list.APIResources {
			if !strings.Contains(r.Name, "/") { // not a subresource
				kinds[r.Kind] = r.Name
			}
		}
		if n.byGV == nil {
			n.byGV, n.known = map[schema.GroupVersion]map[string]string{}, map[schema.GroupVersion]bool{}
		}
		n.byGV[gv], n.known[gv] = kinds, true
	}
	r, ok := n.byGV[gv][kind]
	return r, ok
}
