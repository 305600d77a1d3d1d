package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// Defaults of an Application's spec, applied by the server on create and update.
const (
	DefaultRevision         = "HEAD"
	DefaultInterval         = 3 * time.Minute
	DefaultWaveTimeout      = 5 * time.Minute
	DefaultRetryLimit       = int32(5)
	DefaultBackoffDuration  = 5 * time.Second
	DefaultBackoffFactor    = int32(2)
	DefaultBackoffMaxPeriod = 3 * time.Minute
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_ApplicationSpec fills in the revision of each source, the re-check interval, the wave timeout and
// the retry policy.
func SetDefaults_ApplicationSpec(obj *ApplicationSpec) {
	// spec.source.revision is defaulted even when spec.sources is used (its +default marker says
	// so too): validation takes a source holding only the default revision as unset.
	if obj.Source.Revision == "" {
		obj.Source.Revision = DefaultRevision
	}
	for i := range obj.Sources {
		if obj.Sources[i].Revision == "" {
			obj.Sources[i].Revision = DefaultRevision
		}
	}
	if obj.SyncPolicy.Interval == nil {
		obj.SyncPolicy.Interval = &metav1.Duration{Duration: DefaultInterval}
	}
	if obj.SyncPolicy.WaveTimeout == nil {
		obj.SyncPolicy.WaveTimeout = &metav1.Duration{Duration: DefaultWaveTimeout}
	}
	if obj.SyncPolicy.Retry == nil {
		obj.SyncPolicy.Retry = &RetryStrategy{}
	}
	retry := obj.SyncPolicy.Retry
	if retry.Limit == nil {
		retry.Limit = ptr.To(DefaultRetryLimit)
	}
	if retry.Backoff == nil {
		retry.Backoff = &Backoff{}
	}
	if retry.Backoff.Duration == nil {
		retry.Backoff.Duration = &metav1.Duration{Duration: DefaultBackoffDuration}
	}
	if retry.Backoff.Factor == nil {
		retry.Backoff.Factor = ptr.To(DefaultBackoffFactor)
	}
	if retry.Backoff.MaxDuration == nil {
		retry.Backoff.MaxDuration = &metav1.Duration{Duration: DefaultBackoffMaxPeriod}
	}
}

// DefaultSyncWindowTimeZone is the time zone a SyncWindow's schedule is read in when it names none.
const DefaultSyncWindowTimeZone = "UTC"

// SetDefaults_SyncWindowSpec reads the schedule in UTC unless the window names a time zone.
func SetDefaults_SyncWindowSpec(obj *SyncWindowSpec) {
	if obj.TimeZone == "" {
		obj.TimeZone = DefaultSyncWindowTimeZone
	}
}
