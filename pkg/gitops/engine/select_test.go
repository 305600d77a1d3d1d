package engine

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func TestSelectResources(t *testing.T) {
	objs := []*unstructured.Unstructured{
		object("v1", "ConfigMap", "web", "settings"),
		object("apps/v1", "Deployment", "web", "frontend"),
		object("v1", "Service", "web", "frontend"),
		object("v1", "Namespace", "", "web"),
		object("v1", "ConfigMap", "other", "settings"),
	}
	names := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName())
		}
		return out
	}
	cases := []struct {
		name      string
		resources []gitopsv1alpha1.SyncResource
		selected  []string
		unmatched []int
	}{
		{"kind and name match in every namespace", []gitopsv1alpha1.SyncResource{{Kind: "ConfigMap", Name: "settings"}},
			[]string{"ConfigMap/web/settings", "ConfigMap/other/settings"}, nil},
		{"a namespace narrows it", []gitopsv1alpha1.SyncResource{{Kind: "ConfigMap", Namespace: "other", Name: "settings"}},
			[]string{"ConfigMap/other/settings"}, nil},
		{"the group tells a Deployment from a Service of one name", []gitopsv1alpha1.SyncResource{{Group: "apps", Kind: "Deployment", Name: "frontend"}},
			[]string{"Deployment/web/frontend"}, nil},
		{"kind in any case, core spelled out", []gitopsv1alpha1.SyncResource{{Group: "core", Kind: "service", Name: "frontend"}},
			[]string{"Service/web/frontend"}, nil},
		{"a cluster-scoped object", []gitopsv1alpha1.SyncResource{{Kind: "Namespace", Name: "web"}}, []string{"Namespace//web"}, nil},
		{"the wrong group matches nothing", []gitopsv1alpha1.SyncResource{{Kind: "Deployment", Name: "frontend"}}, nil, []int{0}},
		{"each entry that names nothing is reported", []gitopsv1alpha1.SyncResource{
			{Kind: "ConfigMap", Namespace: "web", Name: "settings"}, {Kind: "Secret", Name: "x"}, {Kind: "ConfigMap", Name: "gone"},
		}, []string{"ConfigMap/web/settings"}, []int{1, 2}},
		{"an object named twice is applied once, in Git's order", []gitopsv1alpha1.SyncResource{
			{Kind: "Service", Name: "frontend"}, {Kind: "ConfigMap", Namespace: "web", Name: "settings"}, {Kind: "Service", Namespace: "web", Name: "frontend"},
		}, []string{"ConfigMap/web/settings", "Service/web/frontend"}, nil},
	}
	for _, tc := range cases {
		selected, unmatched := SelectResources(objs, tc.resources)
		if got := names(selected); !reflect.DeepEqual(got, tc.selected) {
			t.Errorf("%s: selected %v, want %v", tc.name, got, tc.selected)
		}
		if !reflect.DeepEqual(unmatched, tc.unmatched) {
			t.Errorf("%s: unmatched %v, want %v", tc.name, unmatched, tc.unmatched)
		}
	}
}
