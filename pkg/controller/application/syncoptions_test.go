package application

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func configMapWithOptions(name, value, annotation, options string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  annotations: {%s: %q}\ndata:\n  value: %q\n", name, annotation, options, value)
}

// TestSyncOptionsPruneDeleteReplace: a Prune=false object survives leaving Git (and Ferry lets go
// of it); a Delete=false object (Argo CD's annotation) survives the deletion of its Application;
// a Replace=true object is written with a replace, not an apply.
func TestSyncOptionsPruneDeleteReplace(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{
		"keep.yaml":     configMapWithOptions("keep", "1", "gitops.ferry.dev/sync-options", "Prune=false"),
		"drop.yaml":     configMap("drop", "1"),
		"retain.yaml":   configMapWithOptions("retain", "1", "argocd.argoproj.io/sync-options", "Delete=false"),
		"replaced.yaml": configMapWithOptions("replaced", "1", "gitops.ferry.dev/sync-options", "Replace=true"),
	})
	f.create("opts", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true}
	})
	f.waitLive("replaced", "1", true)

	// keep and drop leave Git, replaced changes.
	second := f.commit(map[string]string{
		"keep.yaml": "", "drop.yaml": "",
		"replaced.yaml": configMapWithOptions("replaced", "2", "gitops.ferry.dev/sync-options", "Replace=true"),
	})
	app := f.waitFor("opts", "Synced at the second commit", synced(second))
	f.waitLive("drop", "", false)
	if v, ok := f.liveValue("keep"); !ok || v != "1" {
		t.Errorf("the Prune=false object was pruned: exists=%v value %q", ok, v)
	}
	for _, r := range app.Status.Resources {
		if r.Name == "keep" {
			t.Errorf("the Prune=false object that left Git is still in the inventory: %+v", r)
		}
	}
	f.waitLive("replaced", "2", true)
	cm, err := f.kube.CoreV1().ConfigMaps(f.dest).Get(t.Context(), "replaced", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, m := range cm.ManagedFields {
		if m.Manager == "ferry" {
			ops = append(ops, string(m.Operation))
		}
	}
	if fmt.Sprint(ops) != "[Update]" {
		t.Errorf("Ferry's writes of the Replace=true object: %v, want a replace (Update) only", ops)
	}

	f.deleteApp("opts")
	f.waitFor("opts", "finalizer removed", finalized)
	if _, ok := f.liveValue("retain"); !ok {
		t.Error("the Delete=false object was deleted with its Application")
	}
	if _, ok := f.liveValue("replaced"); ok {
		t.Error("an object without Delete=false survived the deletion of its Application")
	}
}
