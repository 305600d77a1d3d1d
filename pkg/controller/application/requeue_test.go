package application

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestOwnStatusWritesDoNotRequeue(t *testing.T) {
	base := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Generation: 2}}
	op := func(id string, phase gitopsv1alpha1.OperationPhase) *gitopsv1alpha1.Application {
		a := base.DeepCopy()
		a.Status.Operation = &gitopsv1alpha1.Operation{ID: id, Phase: phase}
		return a
	}
	statusOnly := base.DeepCopy()
	statusOnly.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
	specChange := base.DeepCopy()
	specChange.Generation = 3
	deleting := base.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	orphan := base.DeepCopy()
	orphan.Annotations = map[string]string{gitopsv1alpha1.DeletionPolicyAnnotation: gitopsv1alpha1.DeletionPolicyOrphan}

	cases := []struct {
		name     string
		old, cur *gitopsv1alpha1.Application
		want     bool
	}{
		{"status written by the controller", base, statusOnly, false},
		{"operation moved to Running by the controller", op("1", gitopsv1alpha1.OperationPending), op("1", gitopsv1alpha1.OperationRunning), false},
		{"operation finished", op("1", gitopsv1alpha1.OperationRunning), op("1", gitopsv1alpha1.OperationSucceeded), false},
		{"spec changed", base, specChange, true},
		{"sync requested", base, op("1", gitopsv1alpha1.OperationPending), true},
		{"new sync after a finished one", op("1", gitopsv1alpha1.OperationSucceeded), op("2", gitopsv1alpha1.OperationPending), true},
		{"deletion started", base, deleting, true},
		{"deletion policy changed", base, orphan, true},
	}
	for _, tc := range cases {
		if got := needsReconcile(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: needsReconcile = %v, want %v", tc.name, got, tc.want)
		}
	}
}
