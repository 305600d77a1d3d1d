package apply

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
)

// Prepare defaults namespaces and sets the tracking annotation and label on every object but the
// hooks (package hooks), in place. Cluster-scoped objects lose any namespace they carry.
func (a *Applier) Prepare(ctx context.Context, app App, username string, objects []*unstructured.Unstructured, defaultNamespace string) error {
	ic, err := a.forIdentity(username)
	if err != nil {
		return err
	}
	if defaultNamespace == "" {
		defaultNamespace = app.Namespace
	}
	for _, o := range objects {
		gvk := o.GroupVersionKind()
		mapping, err := ic.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			if meta.IsNoMatchError(err) && definesCRD(objects, gvk.GroupKind()) {
				// Its CRD comes with this set: custom resources are namespaced unless the CRD
				// says otherwise.
				if crdClusterScoped(objects, gvk.GroupKind()) {
					o.SetNamespace("")
				} else if o.GetNamespace() == "" {
					o.SetNamespace(defaultNamespace)
				}
			} else {
				return fmt.Errorf("%s: the cluster does not serve %s: %w", RefOf(o), gvk, err)
			}
		} else if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				o.SetNamespace(defaultNamespace)
			}
		} else {
			o.SetNamespace("")
		}
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		if hooks.IsHook(o) {
			// A hook is run, not kept: no tracking annotation (nothing prunes it) and no
			// label (the drift watcher does not see it); it says which Application ran it.
			// Whatever Git wrote in Ferry's own keys goes: a hook claiming to be another
			// Application's object could later be pruned or taken over in its name.
			delete(ann, TrackingAnnotation)
			ann[hooks.OfAnnotation] = app.Key()
			o.SetAnnotations(ann)
			if labels := o.GetLabels(); labels != nil {
				delete(labels, AppLabel)
				o.SetLabels(labels)
			}
			continue
		}
		// A kept object is no hook: Git cannot mark it as one some Application ran, which would
		// let that Application's hook delete it.
		delete(ann, hooks.OfAnnotation)
		ann[TrackingAnnotation] = TrackingID(app, RefOf(o))
		o.SetAnnotations(ann)
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[AppLabel] = app.LabelValue()
		o.SetLabels(labels)
	}
	return nil
}

func definesCRD(objects []*unstructured.Unstructured, gk schema.GroupKind) bool {
	return findCRD(objects, gk) != nil
}

func crdClusterScoped(objects []*unstructured.Unstructured, gk schema.GroupKind) bool {
	crd := findCRD(objects, gk)
	scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
	return scope == "Cluster"
}

func findCRD(objects []*unstructured.Unstructured, gk schema.GroupKind) *unstructured.Unstructured {
	for _, o := range objects {
		if o.GetKind() != "CustomResourceDefinition" || o.GroupVersionKind().Group != "apiextensions.k8s.io" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if group == gk.Group && kind == gk.Kind {
			return o
		}
	}
	return nil
}
