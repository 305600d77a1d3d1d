package application_test

import (
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/ptr"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestDeletingWithOrphanKeepsNothingToPrune: kubectl delete --cascade=orphan (propagationPolicy
// Orphan, or the older orphanDependents) drops Ferry's prune finalizer in the write that starts
// the deletion, so nothing is pruned; an ordinary deletion keeps it, and the Application waits
// for Ferry's prune.
func TestDeletingWithOrphanKeepsNothingToPrune(t *testing.T) {
	st := newStorage(t)
	for _, tc := range []struct {
		name    string
		options *metav1.DeleteOptions
		orphan  bool
	}{
		{"default", &metav1.DeleteOptions{}, false},
		{"background", &metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationBackground)}, false},
		{"foreground", &metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}, false},
		{"orphan", &metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)}, true},
		{"orphandependents", &metav1.DeleteOptions{OrphanDependents: ptr.To(true)}, true}, //nolint:staticcheck // SA1019: older clients send it
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := validApplication("ns", tc.name)
			app.Finalizers = []string{v1alpha1.PruneFinalizer, "example.com/other"}
			create(t, st, app)
			if _, _, err := st.Application.Delete(ctxFor("ns", nil), tc.name, rest.ValidateAllObjectFunc, tc.options); err != nil {
				t.Fatal(err)
			}
			got := get(t, st, "ns", tc.name)
			if got.DeletionTimestamp == nil {
				t.Fatal("the deletion did not start")
			}
			if pruned := slices.Contains(got.Finalizers, v1alpha1.PruneFinalizer); pruned == tc.orphan {
				t.Errorf("finalizers %v after a %s deletion: Ferry's prune finalizer kept=%v, want %v", got.Finalizers, tc.name, pruned, !tc.orphan)
			}
			if !slices.Contains(got.Finalizers, "example.com/other") {
				t.Errorf("finalizers %v: another controller's finalizer was dropped", got.Finalizers)
			}
		})
	}

	// With Ferry's the only finalizer, an orphaning deletion removes the Application at once.
	app := validApplication("ns", "alone")
	app.Finalizers = []string{v1alpha1.PruneFinalizer}
	create(t, st, app)
	if _, _, err := st.Application.Delete(ctxFor("ns", nil), "alone", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationOrphan)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Application.Get(ctxFor("ns", nil), "alone", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after an orphaning deletion: %v, want NotFound", err)
	}
}
