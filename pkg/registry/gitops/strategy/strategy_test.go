package strategy

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

func TestGetAttrs(t *testing.T) {
	w := &gitops.SyncWindow{ObjectMeta: metav1.ObjectMeta{Name: "freeze", Namespace: "shop", Labels: map[string]string{"tier": "prod"}}}
	l, f, err := GetAttrs(w)
	if err != nil || l["tier"] != "prod" || f["metadata.name"] != "freeze" || f["metadata.namespace"] != "shop" {
		t.Errorf("a namespaced object: %v %v %v", l, f, err)
	}
	c := &gitops.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}
	_, f, err = GetAttrs(c)
	if _, has := f["metadata.namespace"]; err != nil || f["metadata.name"] != "edge" || has {
		t.Errorf("a cluster-scoped object: %v %v (no metadata.namespace field)", f, err)
	}
}

func TestNextGeneration(t *testing.T) {
	old := &gitops.SyncWindow{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: gitops.SyncWindowSpec{Schedule: "0 18 * * 5"}}
	same := old.DeepCopy()
	same.Labels = map[string]string{"a": "b"}
	NextGeneration(same, old, same.Spec, old.Spec)
	changed := old.DeepCopy()
	changed.Spec.Schedule = "0 19 * * 5"
	NextGeneration(changed, old, changed.Spec, old.Spec)
	if same.Generation != 3 || changed.Generation != 4 {
		t.Errorf("generation after a metadata change %d (want 3), after a spec change %d (want 4)", same.Generation, changed.Generation)
	}
}
