package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestAppSetStatusShowsEachGeneratedApplication: the set's identity, generators, policy, why it is
// not Ready, and each Application with its cluster, sync and health.
func TestAppSetStatusShowsEachGeneratedApplication(t *testing.T) {
	set := &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "guestbook", CreationTimestamp: minutesAgo(90)},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			ServiceAccountName: "deployer",
			Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"fleet": "eu"}}}}},
			SyncPolicy: gitopsv1alpha1.ApplicationSetSyncPolicy{ApplicationsSync: gitopsv1alpha1.ApplicationsSyncCreateUpdate},
		},
		Status: gitopsv1alpha1.ApplicationSetStatus{
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Forbidden",
				Message: "Application guestbook-qa not generated: spec.destination.cluster: serviceaccount team/deployer may not use cluster qa"}},
			Applications: []gitopsv1alpha1.ApplicationSetApplicationStatus{
				{Name: "guestbook-staging", Cluster: "staging", Sync: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthHealthy},
				{Name: "guestbook-prod", Cluster: "prod", Sync: gitopsv1alpha1.SyncStatusOutOfSync, Health: gitopsv1alpha1.HealthProgressing},
			},
		},
	}
	h := newHarness(t, set)
	if code := h.run("appset", "status", "guestbook"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.err)
	}
	out := strings.Join(strings.Fields(h.out.String()), " ")
	for _, want := range []string{"Acts as: deployer", "Generators: clusters fleet=eu", "Sync policy: create-update", "Ready: False Application guestbook-qa not generated",
		"guestbook-prod prod OutOfSync Progressing guestbook-staging staging Synced Healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("appset status lacks %q:\n%s", want, out)
		}
	}
	if code := h.run("appset", "list"); code != 0 || !strings.Contains(strings.Join(strings.Fields(h.out.String()), " "), "guestbook 2 1/2 1/2 False 90m") {
		t.Errorf("appset list (exit %d):\n%s%s", code, h.out, h.err)
	}
	if code := h.run("appset", "status", "nope"); code != ExitCodeError || !strings.Contains(h.err.String(), "no ApplicationSet nope in namespace team") {
		t.Errorf("a missing set (exit %d): %s", code, h.err)
	}
}
