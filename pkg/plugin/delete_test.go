package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// deleteOptions are the options of the fake's one delete of an Application.
func (h *harness) deleteOptions() metav1.DeleteOptions {
	h.t.Helper()
	for _, a := range h.client.Actions() {
		if d, ok := a.(clienttesting.DeleteActionImpl); ok && d.GetResource().Resource == "applications" {
			return d.DeleteOptions
		}
	}
	h.t.Fatalf("no delete of an Application among %v", h.client.Actions())
	return metav1.DeleteOptions{}
}

// TestDeleteShowsWhatItPrunesAndWaitsUntilTheApplicationIsGone: kubectl ferry delete lists the
// objects of status.resources, deletes in the background and reports the Application gone.
func TestDeleteShowsWhatItPrunesAndWaitsUntilTheApplicationIsGone(t *testing.T) {
	h := newHarness(t, webApp())
	h.mustRun(ExitCodeOK, "delete", "web")
	out := h.out.String()
	for _, want := range []string{"Ferry prunes 5 objects", "Deployment.apps", "web-settings", "Namespace", "application team/web deleted"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if p := h.deleteOptions().PropagationPolicy; p == nil || *p != metav1.DeletePropagationBackground {
		t.Errorf("propagationPolicy %v, want Background", p)
	}
}

// TestDeleteWithCascadeOrphanKeepsTheObjects: --cascade=orphan is passed on as propagationPolicy
// Orphan, and the listing says the objects stay.
func TestDeleteWithCascadeOrphanKeepsTheObjects(t *testing.T) {
	h := newHarness(t, webApp())
	h.mustRun(ExitCodeOK, "delete", "web", "--cascade=orphan")
	if out := h.out.String(); !strings.Contains(out, "keeping its 5 objects (--cascade=orphan)") {
		t.Errorf("output does not say the objects stay:\n%s", out)
	}
	if p := h.deleteOptions().PropagationPolicy; p == nil || *p != metav1.DeletePropagationOrphan {
		t.Errorf("propagationPolicy %v, want Orphan", p)
	}
	h.mustRun(ExitCodeError, "delete", "web", "--cascade=never")
}

// TestDeleteShowsWhatItWaitsForAndGivesUpAtItsTimeout: an Application whose prune finalizer
// stays is shown as being pruned; at --timeout the command fails with exit code 2, saying how to
// find out what holds it.
func TestDeleteShowsWhatItWaitsForAndGivesUpAtItsTimeout(t *testing.T) {
	h := newHarness(t, webApp())
	// The API server starts the deletion of an object with finalizers and keeps it.
	// (Through the tracker: the clientset would wait for the lock its reactor holds.)
	gvr := gitopsv1alpha1.SchemeGroupVersion.WithResource("applications")
	h.client.PrependReactor("delete", "applications", func(clienttesting.Action) (bool, runtime.Object, error) {
		obj, err := h.client.Tracker().Get(gvr, "team", "web")
		if err != nil {
			return true, nil, err
		}
		app := obj.(*gitopsv1alpha1.Application).DeepCopy()
		now := metav1.Now()
		app.DeletionTimestamp = &now
		app.Finalizers = []string{gitopsv1alpha1.PruneFinalizer}
		return true, nil, h.client.Tracker().Update(gvr, app, "team")
	})
	h.mustRun(ExitCodeError, "delete", "web", "--timeout=1500ms")
	if out := h.out.String(); !strings.Contains(out, "Ferry is pruning its objects") {
		t.Errorf("the progress does not say what the deletion waits for:\n%s", out)
	}
	if e := h.err.String(); !strings.Contains(e, "still exists after 1.5s") || !strings.Contains(e, "kubectl get events -n team") {
		t.Errorf("stderr:\n%s", e)
	}
}
