package application

import (
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// finalizeRetryMax caps the wait between two attempts to prune a deleted Application's objects.
const finalizeRetryMax = 30 * time.Second

// finalizeRetry is how a deleted Application's prune is retried: doubling from a second, at
// most finalizeRetryMax, with no limit (--finalizer-timeout ends it).
var finalizeRetry = &gitopsv1alpha1.RetryStrategy{
	Limit: ptr.To[int32](math.MaxInt32),
	Backoff: &gitopsv1alpha1.Backoff{
		Duration: &metav1.Duration{Duration: time.Second}, Factor: ptr.To[int32](2),
		MaxDuration: &metav1.Duration{Duration: finalizeRetryMax},
	},
}

// backoff is the wait before retry number attempt (from 1) under policy, spec.syncPolicy.retry
// with its defaults for what it leaves out: exponential from its duration by its factor, at most
// its maxDuration, and after limit retries the interval.
func backoff(policy *gitopsv1alpha1.RetryStrategy, attempt int32, interval time.Duration) time.Duration {
	limit := gitopsv1alpha1.DefaultRetryLimit
	base, factor, maxDelay := gitopsv1alpha1.DefaultBackoffDuration, float64(gitopsv1alpha1.DefaultBackoffFactor), gitopsv1alpha1.DefaultBackoffMaxPeriod
	if policy != nil {
		if policy.Limit != nil {
			limit = *policy.Limit
		}
		if b := policy.Backoff; b != nil {
			if b.Duration != nil {
				base = b.Duration.Duration
			}
			if b.Factor != nil {
				factor = float64(*b.Factor)
			}
			if b.MaxDuration != nil {
				maxDelay = b.MaxDuration.Duration
			}
		}
	}
	if attempt > limit {
		return interval
	}
	delay := time.Duration(float64(base) * math.Pow(factor, float64(attempt-1)))
	if delay > maxDelay || delay <= 0 {
		delay = maxDelay
	}
	return delay
}

// retryDelay counts one more failure of the Application and follows its spec.syncPolicy.retry.
func (c *Controller) retryDelay(key string, app *gitopsv1alpha1.Application, interval time.Duration) time.Duration {
	return backoff(app.Spec.SyncPolicy.Retry, c.failed(key), interval)
}

// finalizeDelay is the wait before the next attempt to prune a deleted Application's objects.
func (c *Controller) finalizeDelay(app *gitopsv1alpha1.Application) time.Duration {
	return backoff(finalizeRetry, c.failed(cache.MetaObjectToName(app).String()), finalizeRetryMax)
}

// intervalOf is how often the Application's source is checked again.
func intervalOf(app *gitopsv1alpha1.Application) time.Duration {
	if app.Spec.SyncPolicy.Interval != nil {
		return app.Spec.SyncPolicy.Interval.Duration
	}
	return gitopsv1alpha1.DefaultInterval
}
