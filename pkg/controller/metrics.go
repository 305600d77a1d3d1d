// Package controller holds the metrics of Ferry's controllers, served on ferry-apiserver's
// /metrics; the controllers themselves are its subpackages (application, applicationset, cluster).
package controller

import (
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	listers "github.com/ferry-gitops/ferry/pkg/generated/listers/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/recovery"
)

// Ferry's metrics, served on ferry-apiserver's /metrics beside the API server's own.
var (
	reconcileDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace: "ferry", Name: "reconcile_duration_seconds",
		Help:           "Time to reconcile one Application, by result (success, error).",
		Buckets:        []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	syncsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "ferry", Name: "syncs_total",
		Help:           "Syncs that applied objects, by result (succeeded, failed).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	gitFetchesTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "ferry", Name: "git_fetches_total",
		Help:           "Fetches from Git remotes, by result (success, error). Shared by every Application of a repository.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	gitFetchDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "ferry", Name: "git_fetch_duration_seconds",
		Help:           "Time of one fetch from a Git remote.",
		Buckets:        []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		StabilityLevel: metrics.ALPHA,
	})
	renderDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace: "ferry", Name: "render_duration_seconds",
		Help:           "Time to read and render one Application's path, cache hits included.",
		Buckets:        []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		StabilityLevel: metrics.ALPHA,
	})
	applicationsDesc = metrics.NewDesc("ferry_applications",
		"Applications by sync status and health.", []string{"sync", "health"}, nil, metrics.ALPHA, "")
)

var registerOnce sync.Once

func registerMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(reconcileDuration, syncsTotal, gitFetchesTotal, gitFetchDuration, renderDuration)
		recovery.Register()
	})
}

// ObserveGitFetch records one fetch; give it to source.Options.OnFetch.
func ObserveGitFetch(d time.Duration, err error) {
	registerMetrics()
	result := "success"
	if err != nil {
		result = "error"
	}
	gitFetchesTotal.WithLabelValues(result).Inc()
	gitFetchDuration.Observe(d.Seconds())
}

// ObserveReconcile records the time of one reconcile of an Application and whether it failed.
func ObserveReconcile(d time.Duration, err error) {
	outcome := "success"
	if err != nil {
		outcome = "error"
	}
	reconcileDuration.WithLabelValues(outcome).Observe(d.Seconds())
}

// CountSync counts a sync that applied objects, by result: "succeeded" or "failed".
func CountSync(result string) {
	syncsTotal.WithLabelValues(result).Inc()
}

// ObserveRender records one render; give it to engine.Config.OnRender.
func ObserveRender(d time.Duration) {
	registerMetrics()
	renderDuration.Observe(d.Seconds())
}

// applicationsCollector counts Applications by sync and health from the informer's cache at
// scrape time: no bookkeeping on the reconcile path. It reads the lister of the controller of the
// current term of leadership; a standby replica reports nothing.
type applicationsCollector struct {
	metrics.BaseStableCollector
	lister atomic.Pointer[listers.ApplicationLister]
}

var collector = &applicationsCollector{}

func (c *applicationsCollector) DescribeWithStability(ch chan<- *metrics.Desc) {
	ch <- applicationsDesc
}

func (c *applicationsCollector) CollectWithStability(ch chan<- metrics.Metric) {
	lister := c.lister.Load()
	if lister == nil {
		return
	}
	apps, err := (*lister).List(labels.Everything())
	if err != nil {
		return
	}
	type key struct{ sync, health string }
	counts := map[key]int{}
	for _, app := range apps {
		s, h := string(app.Status.Sync.Status), string(app.Status.Health.Status)
		if s == "" {
			s = string(gitopsv1alpha1.SyncStatusUnknown)
		}
		if h == "" {
			h = string(gitopsv1alpha1.HealthUnknown)
		}
		counts[key{s, h}]++
	}
	for k, n := range counts {
		ch <- metrics.NewLazyConstMetric(applicationsDesc, metrics.GaugeValue, float64(n), k.sync, k.health)
	}
}

var collectorOnce sync.Once

// RegisterApplications registers Ferry's metrics and makes the Applications' gauge count from
// lister, the newest Application controller's.
func RegisterApplications(lister listers.ApplicationLister) {
	registerMetrics()
	collector.lister.Store(&lister)
	collectorOnce.Do(func() {
		legacyregistry.CustomMustRegister(collector)
	})
}
