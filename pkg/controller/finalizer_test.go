package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// deleteApp starts the deletion of an Application as the API server does for an object with
// finalizers: it sets deletionTimestamp and waits for them.
func (f *fixture) deleteApp(name string) {
	f.t.Helper()
	app := f.get(name)
	now := metav1.Now()
	app.DeletionTimestamp = &now
	if _, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).Update(f.t.Context(), app, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func finalized(a *gitopsv1alpha1.Application) bool { return !hasFinalizer(a) }

// TestDeletingAnApplicationDeletesWhatItDeployed: the prune finalizer is added on first sight;
// deleting the Application deletes its objects, then releases it.
func TestDeletingAnApplicationDeletesWhatItDeployed(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1"), "other.yaml": configMap("other", "1")})
	f.create("web", nil)
	app := f.waitFor("web", "synced", synced(sha))
	if !hasFinalizer(app) {
		t.Fatalf("no %s finalizer on a synced Application: %v", gitopsv1alpha1.PruneFinalizer, app.Finalizers)
	}

	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	for _, name := range []string{"settings", "other"} {
		if _, ok := f.liveValue(name); ok {
			t.Errorf("%s survived the deletion of its Application", name)
		}
	}
}

// TestOrphanDeletionPolicyKeepsTheObjects: with the orphan deletion policy, deleting the
// Application leaves what it deployed.
func TestOrphanDeletionPolicyKeepsTheObjects(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) {
		a.Annotations = map[string]string{gitopsv1alpha1.DeletionPolicyAnnotation: gitopsv1alpha1.DeletionPolicyOrphan}
	})
	f.waitFor("web", "synced", synced(sha))

	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	if v, ok := f.liveValue("settings"); !ok || v != "1" {
		t.Errorf("orphan policy: settings exists=%v value %q after the Application was deleted", ok, v)
	}
}
