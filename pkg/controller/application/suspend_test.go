package application

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestSuspendedApplicationsAreLeftAlone: a suspended Application applies nothing and says so;
// resuming it syncs.
func TestSuspendedApplicationsAreLeftAlone(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Spec.Suspend = true })
	app := f.waitFor("web", "reported suspended", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionReconciling)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == gitopsv1alpha1.ReasonSuspended
	})
	if app.Status.ObservedGeneration != app.Generation {
		t.Errorf("observedGeneration %d, generation %d", app.Status.ObservedGeneration, app.Generation)
	}
	if _, ok := f.liveValue("settings"); ok {
		t.Fatal("a suspended Application applied settings")
	}

	f.update("web", func(a *gitopsv1alpha1.Application) { a.Spec.Suspend = false })
	f.waitFor("web", "synced once resumed", synced(sha))
	f.waitLive("settings", "1", true)
}
