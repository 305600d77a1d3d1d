package plugin

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

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

// TestAppSetStatusShowsARollingSyncsSteps: a set with a rolling sync shows where the rollout
// stands, each step with its selector, maxUpdate, phase and ready count, and each Application's
// step.
func TestAppSetStatusShowsARollingSyncsSteps(t *testing.T) {
	one := intstr.FromInt32(1)
	set := &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "guestbook", CreationTimestamp: minutesAgo(5)},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			Generators: []gitopsv1alpha1.ApplicationSetGenerator{{List: &gitopsv1alpha1.ListGenerator{}}},
			Strategy: &gitopsv1alpha1.ApplicationSetStrategy{RollingSync: &gitopsv1alpha1.RollingSyncStrategy{Steps: []gitopsv1alpha1.RollingSyncStep{
				{Name: "staging", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "staging"}}},
				{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "production"}}, MaxUpdate: &one},
				{Name: "rest"}, // an empty selector: every Application left
			}}},
		},
		Status: gitopsv1alpha1.ApplicationSetStatus{
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Generated", Message: "2 Applications generated"},
				{Type: "RolledOut", Status: metav1.ConditionFalse, Reason: "Degraded", Message: "step 1 of 2 (staging): Application guestbook-staging Degraded"},
			},
			Steps: []gitopsv1alpha1.RolloutStepStatus{
				{Name: "staging", Phase: gitopsv1alpha1.RolloutStepDegraded, Applications: 1, Updated: 1, Message: "Application guestbook-staging Degraded"},
				{Name: "step-2", Phase: gitopsv1alpha1.RolloutStepWaiting, Applications: 1, Message: "waits for step staging"},
				{Name: "rest", Phase: gitopsv1alpha1.RolloutStepWaiting, Message: "waits for step step-2"},
			},
			Applications: []gitopsv1alpha1.ApplicationSetApplicationStatus{
				{Name: "guestbook-staging", Sync: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthDegraded, Step: "staging"},
				{Name: "guestbook-prod", Cluster: "prod", Sync: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthHealthy, Step: "step-2"},
			},
		},
	}
	h := newHarness(t, set)
	if code := h.run("appset", "status", "guestbook"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.err)
	}
	out := strings.Join(strings.Fields(h.out.String()), " ")
	for _, want := range []string{
		"Rollout: Degraded step 1 of 2 (staging): Application guestbook-staging Degraded",
		"STEP SELECTOR MAX UPDATE PHASE READY MESSAGE",
		"staging env=staging 100% Degraded 0/1 Application guestbook-staging Degraded",
		"step-2 env=production 1 Waiting 0/1 waits for step staging",
		"rest every Application 100% Waiting 0/0 waits for step step-2",
		"guestbook-prod prod Synced Healthy step-2 guestbook-staging (in-cluster) Synced Degraded staging",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("appset status lacks %q:\n%s", want, h.out.String())
		}
	}
}
