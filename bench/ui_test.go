package main

import (
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestStatusMixShowsEveryStateOnTheFirstPage: the first page of the ui scenario (100 rows) has
// Synced and OutOfSync, Healthy, Degraded and Progressing rows, mostly Synced and Healthy.
func TestStatusMixShowsEveryStateOnTheFirstPage(t *testing.T) {
	syncs, healths := map[gitopsv1alpha1.SyncStatusCode]int{}, map[gitopsv1alpha1.HealthStatusCode]int{}
	for i := range 100 {
		s, h := statusMix(i)
		syncs[s]++
		healths[h]++
	}
	if syncs[gitopsv1alpha1.SyncStatusOutOfSync] == 0 || syncs[gitopsv1alpha1.SyncStatusSynced] <= 50 {
		t.Errorf("sync states of 100 rows: %v; want some OutOfSync, mostly Synced", syncs)
	}
	for _, h := range []gitopsv1alpha1.HealthStatusCode{gitopsv1alpha1.HealthDegraded, gitopsv1alpha1.HealthProgressing} {
		if healths[h] == 0 {
			t.Errorf("health states of 100 rows: %v; want some %s", healths, h)
		}
	}
	if healths[gitopsv1alpha1.HealthHealthy] <= 50 {
		t.Errorf("health states of 100 rows: %v; want mostly Healthy", healths)
	}
}

func TestEpochMillisReadsTheBrowsersClock(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 30, 0, 250_500_000, time.UTC)
	ms := float64(now.UnixNano()) / float64(time.Millisecond)
	if got := epochMillis(ms); got.Sub(now).Abs() > time.Microsecond {
		t.Errorf("epochMillis(%f) = %v, want %v", ms, got.UTC(), now)
	}
}
