package engine

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// SelectResources returns the rendered objects a selective sync names, and the indexes of the
// entries that name none. An entry matches on group, kind (in any case, as kubectl accepts
// "deployment"), name, and namespace unless the entry leaves it empty.
func SelectResources(objs []*unstructured.Unstructured, resources []gitopsv1alpha1.SyncResource) (selected []*unstructured.Unstructured, unmatched []int) {
	taken := make([]bool, len(objs))
	for i, r := range resources {
		found := false
		for j, o := range objs {
			if matches(r, o) {
				found = true
				taken[j] = true
			}
		}
		if !found {
			unmatched = append(unmatched, i)
		}
	}
	for j, o := range objs {
		if taken[j] {
			selected = append(selected, o)
		}
	}
	return selected, unmatched
}

func matches(r gitopsv1alpha1.SyncResource, o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	group := r.Group
	if group == "core" {
		group = ""
	}
	return group == gvk.Group && strings.EqualFold(r.Kind, gvk.Kind) && r.Name == o.GetName() &&
		(r.Namespace == "" || r.Namespace == o.GetNamespace())
}

// ResourceString names a sync entry the way kubectl ferry sync --resource takes it.
func ResourceString(r gitopsv1alpha1.SyncResource) string {
	if r.Group == "" && r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}
