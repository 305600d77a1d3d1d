package notify

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const (
	revA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	revB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var t0 = metav1.NewTime(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))

func cond(typ string, status metav1.ConditionStatus, reason string, at metav1.Time) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, LastTransitionTime: at}
}

// app is an Application in the state the controller writes after a sync of synced while the
// source is at source.
func app(source, synced string, sync v1alpha1.SyncStatusCode, health v1alpha1.HealthStatusCode, conds ...metav1.Condition) *v1alpha1.Application {
	a := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team", UID: "uid-1"}}
	a.Status.SourceRevision = source
	a.Status.Sync = v1alpha1.SyncStatus{Status: sync, Revision: synced}
	a.Status.Health = v1alpha1.HealthStatus{Status: health}
	a.Status.Conditions = conds
	return a
}

// TestTriggersHoldExactlyWhenTheirStateIs: each status shape the Application controller writes
// holds the triggers it means, with a key that is the same for the same revision and state, and
// differs for a new one.
func TestTriggersHoldExactlyWhenTheirStateIs(t *testing.T) {
	t1 := metav1.NewTime(t0.Add(time.Minute))
	synced := cond(v1alpha1.ConditionSynced, metav1.ConditionTrue, v1alpha1.ReasonSynced, t0)
	outOfSync := cond(v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonOutOfSync, t0)
	healthy := cond(v1alpha1.ConditionHealthy, metav1.ConditionTrue, "Healthy", t0)
	for _, tc := range []struct {
		name string
		app  *v1alpha1.Application
		want map[v1alpha1.AlertTrigger]string
	}{
		{"new, nothing synced yet", app("", "", v1alpha1.SyncStatusUnknown, v1alpha1.HealthUnknown),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1"}},
		{"synced and healthy", app(revA, revA, v1alpha1.SyncStatusSynced, v1alpha1.HealthHealthy, synced, healthy),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1", "SyncSucceeded": revA, "Deployed": revA}},
		{"synced, still progressing", app(revA, revA, v1alpha1.SyncStatusSynced, v1alpha1.HealthProgressing, synced),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1", "SyncSucceeded": revA}},
		{"sync of a bad manifest failed", app(revB, revA, v1alpha1.SyncStatusOutOfSync, v1alpha1.HealthHealthy, synced,
			cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonRenderFailed, t0)),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1", "SyncFailed": revB + "/RenderFailed"}},
		{"degraded", app(revA, revA, v1alpha1.SyncStatusSynced, v1alpha1.HealthDegraded, synced,
			cond(v1alpha1.ConditionHealthy, metav1.ConditionFalse, "Degraded", t1)),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1", "SyncSucceeded": revA, "HealthDegraded": revA + "@" + t1.UTC().Format(time.RFC3339)}},
		{"drifted: out of sync at the source's revision", app(revA, revA, v1alpha1.SyncStatusOutOfSync, v1alpha1.HealthHealthy, outOfSync, healthy),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1", "Drifted": revA + "@" + t0.UTC().Format(time.RFC3339)}},
		{"drifted and put back by selfHeal: synced, with a trace of the repair", func() *v1alpha1.Application {
			a := app(revA, revA, v1alpha1.SyncStatusSynced, v1alpha1.HealthHealthy, synced, healthy)
			a.Status.LastSelfHeal = &v1alpha1.SelfHealRecord{Time: t1, Revision: revA, Objects: []string{"ConfigMap/team/settings"}, Count: 1}
			return a
		}(), map[v1alpha1.AlertTrigger]string{"Created": "uid-1", "SyncSucceeded": revA, "Deployed": revA, "Drifted": revA + "@healed@" + t1.UTC().Format(time.RFC3339)}},
		{"a new commit not yet synced is no drift", app(revB, revA, v1alpha1.SyncStatusOutOfSync, v1alpha1.HealthHealthy, outOfSync, healthy),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1"}},
		{"another Application's object is no drift", app(revA, revA, v1alpha1.SyncStatusOutOfSync, v1alpha1.HealthHealthy,
			cond(v1alpha1.ConditionSynced, metav1.ConditionFalse, v1alpha1.ReasonSharedResource, t0)),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1"}},
		{"waiting for a dependency is no failure", app(revA, "", v1alpha1.SyncStatusUnknown, v1alpha1.HealthUnknown,
			cond(v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonDependencyNotReady, t0)),
			map[v1alpha1.AlertTrigger]string{"Created": "uid-1"}},
	} {
		got := map[v1alpha1.AlertTrigger]string{}
		for _, f := range Firings(tc.app) {
			got[f.Trigger] = f.Key
		}
		if !mapsEqual(got, tc.want) {
			t.Errorf("%s: fired %v, want %v", tc.name, got, tc.want)
		}
	}
}

func mapsEqual(a, b map[v1alpha1.AlertTrigger]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestARunningOperationIsSyncRunningOncePerOperation: a requested sync is news once, by its ID.
func TestARunningOperationIsSyncRunningOncePerOperation(t *testing.T) {
	a := app(revA, "", v1alpha1.SyncStatusUnknown, v1alpha1.HealthUnknown)
	a.Status.Operation = &v1alpha1.Operation{ID: "op-1", Phase: v1alpha1.OperationRunning, Revision: revB}
	i := slices.IndexFunc(Firings(a), func(f Firing) bool { return f.Trigger == v1alpha1.AlertTriggerSyncRunning })
	if i < 0 {
		t.Fatalf("no SyncRunning for a running operation: %v", Firings(a))
	}
	if f := Firings(a)[i]; f.Key != "operation/op-1" || f.Revision != revB {
		t.Errorf("SyncRunning %+v, want the key of op-1 at the operation's revision", f)
	}
	a.Status.Operation.Phase = v1alpha1.OperationSucceeded
	if slices.ContainsFunc(Firings(a), func(f Firing) bool { return f.Trigger == v1alpha1.AlertTriggerSyncRunning }) {
		t.Error("SyncRunning holds for a finished operation")
	}
}

// TestARelapseIsNewsAgain: HealthDegraded and Drifted key on when the state began, so a
// recovery and a relapse at the same revision fire again, while the same episode does not.
func TestARelapseIsNewsAgain(t *testing.T) {
	key := func(at metav1.Time) string {
		a := app(revA, revA, v1alpha1.SyncStatusSynced, v1alpha1.HealthDegraded, cond(v1alpha1.ConditionHealthy, metav1.ConditionFalse, "Degraded", at))
		for _, f := range Firings(a) {
			if f.Trigger == v1alpha1.AlertTriggerHealthDegraded {
				return f.Key
			}
		}
		return ""
	}
	if key(t0) != key(t0) || key(t0) == key(metav1.NewTime(t0.Add(time.Hour))) {
		t.Errorf("keys: same episode %q/%q, relapse %q", key(t0), key(t0), key(metav1.NewTime(t0.Add(time.Hour))))
	}
}
