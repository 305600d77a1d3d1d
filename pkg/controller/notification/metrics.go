package notification

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// notificationsTotal is served on ferry-apiserver's /metrics beside the controllers' others.
var notificationsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "ferry", Name: "notifications_total",
	Help:           "Alerts delivered by provider type (generic, slack, msteams, github, gitlab, gitea, alertmanager) and result (sent, failed).",
	StabilityLevel: metrics.ALPHA,
}, []string{"provider", "result"})

var registerOnce sync.Once

func observe(providerType string, result gitopsv1alpha1.AlertDeliveryResult) {
	registerOnce.Do(func() { legacyregistry.MustRegister(notificationsTotal) })
	r := "sent"
	if result == gitopsv1alpha1.AlertDeliveryFailed {
		r = "failed"
	}
	notificationsTotal.WithLabelValues(providerType, r).Inc()
}
