package v1alpha1_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func defaulted(t *testing.T, app *v1alpha1.Application) *v1alpha1.Application {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	scheme.Default(app)
	return app
}

func TestDefaultsFillAnEmptySpec(t *testing.T) {
	app := defaulted(t, &v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{Source: v1alpha1.ApplicationSource{RepoURL: "https://example.com/r.git"}}})
	s := app.Spec
	if s.Source.Revision != "HEAD" {
		t.Errorf("revision = %q, want HEAD", s.Source.Revision)
	}
	if s.SyncPolicy.Interval == nil || s.SyncPolicy.Interval.Duration != 3*time.Minute {
		t.Errorf("interval = %v, want 3m", s.SyncPolicy.Interval)
	}
	if s.SyncPolicy.WaveTimeout == nil || s.SyncPolicy.WaveTimeout.Duration != 5*time.Minute {
		t.Errorf("waveTimeout = %v, want 5m", s.SyncPolicy.WaveTimeout)
	}
	r := s.SyncPolicy.Retry
	if r == nil || r.Limit == nil || *r.Limit != 5 {
		t.Fatalf("retry = %+v, want limit 5", r)
	}
	b := r.Backoff
	if b == nil || b.Duration.Duration != 5*time.Second || *b.Factor != 2 || b.MaxDuration.Duration != 3*time.Minute {
		t.Errorf("backoff = %+v, want 5s x2 up to 3m", b)
	}
	if s.SyncPolicy.Automated != nil {
		t.Errorf("automated = %+v, want nil: an Application is manual unless asked", s.SyncPolicy.Automated)
	}
}

func TestDefaultsKeepWhatTheUserSet(t *testing.T) {
	app := defaulted(t, &v1alpha1.Application{Spec: v1alpha1.ApplicationSpec{
		Source: v1alpha1.ApplicationSource{RepoURL: "https://example.com/r.git", Revision: "v1.2.3"},
		SyncPolicy: v1alpha1.SyncPolicy{
			Interval:    &metav1.Duration{Duration: time.Hour},
			WaveTimeout: &metav1.Duration{Duration: 20 * time.Second},
			Retry:       &v1alpha1.RetryStrategy{Limit: ptr.To[int32](0), Backoff: &v1alpha1.Backoff{Factor: ptr.To[int32](3)}},
		},
	}})
	s := app.Spec
	if s.Source.Revision != "v1.2.3" || s.SyncPolicy.Interval.Duration != time.Hour || s.SyncPolicy.WaveTimeout.Duration != 20*time.Second {
		t.Errorf("user values overwritten: revision %q interval %v", s.Source.Revision, s.SyncPolicy.Interval)
	}
	if *s.SyncPolicy.Retry.Limit != 0 {
		t.Errorf("retry limit 0 (no retries) became %d", *s.SyncPolicy.Retry.Limit)
	}
	if *s.SyncPolicy.Retry.Backoff.Factor != 3 || s.SyncPolicy.Retry.Backoff.Duration.Duration != 5*time.Second {
		t.Errorf("backoff = %+v: factor must stay 3 and duration default to 5s", s.SyncPolicy.Retry.Backoff)
	}
}
