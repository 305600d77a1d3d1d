package application

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestBackoff pins the waits between retries: spec.syncPolicy.retry and its defaults (5s
// doubling, at most 3m, 5 retries, then the interval), and the prune retries of a deleted
// Application (1s doubling, at most 30s, never the interval).
func TestBackoff(t *testing.T) {
	const interval = time.Hour
	spec := &gitopsv1alpha1.RetryStrategy{Limit: ptr.To[int32](4), Backoff: &gitopsv1alpha1.Backoff{
		Duration: &metav1.Duration{Duration: time.Second}, Factor: ptr.To[int32](3), MaxDuration: &metav1.Duration{Duration: 10 * time.Second},
	}}
	onlyLimit := &gitopsv1alpha1.RetryStrategy{Limit: ptr.To[int32](2)}
	noRetry := &gitopsv1alpha1.RetryStrategy{Limit: ptr.To[int32](0)}
	huge := &gitopsv1alpha1.RetryStrategy{Limit: ptr.To[int32](1000), Backoff: &gitopsv1alpha1.Backoff{Factor: ptr.To[int32](10)}}
	for _, tc := range []struct {
		name    string
		policy  *gitopsv1alpha1.RetryStrategy
		attempt int32
		want    time.Duration
	}{
		{"defaults, first retry", nil, 1, 5 * time.Second},
		{"defaults, second retry", nil, 2, 10 * time.Second},
		{"defaults, fifth retry", nil, 5, 80 * time.Second},
		{"defaults, past the limit", nil, 6, interval},
		{"spec, first retry", spec, 1, time.Second},
		{"spec, times its factor", spec, 2, 3 * time.Second},
		{"spec, third retry", spec, 3, 9 * time.Second},
		{"spec, capped at its maxDuration", spec, 4, 10 * time.Second},
		{"spec, past its limit", spec, 5, interval},
		{"only a limit, the rest defaults", onlyLimit, 2, 10 * time.Second},
		{"only a limit, past it", onlyLimit, 3, interval},
		{"limit 0 never retries", noRetry, 1, interval},
		{"overflowing growth is the maximum", huge, 999, gitopsv1alpha1.DefaultBackoffMaxPeriod},
		{"prune, first retry", finalizeRetry, 1, time.Second},
		{"prune, fifth retry", finalizeRetry, 5, 16 * time.Second},
		{"prune, capped", finalizeRetry, 6, finalizeRetryMax},
		{"prune, never gives up", finalizeRetry, 10000, finalizeRetryMax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(tc.policy, tc.attempt, interval); got != tc.want {
				t.Errorf("backoff(attempt %d) = %s, want %s", tc.attempt, got, tc.want)
			}
		})
	}
}
