package application

import (
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// requestRefresh stores a refresh request, as the applications/refresh subresource does, and
// returns its time.
func (f *fixture) requestRefresh(name string) metav1.MicroTime {
	f.t.Helper()
	for {
		app := f.get(name)
		at := metav1.NewMicroTime(time.Now().Truncate(time.Microsecond))
		refresh := &gitopsv1alpha1.RefreshStatus{RequestedAt: at, RequestedBy: "ci", Reason: "test"}
		if prev := app.Status.Refresh; prev != nil {
			refresh.HandledAt = prev.HandledAt
		}
		app.Status.Refresh = refresh
		_, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).UpdateStatus(f.t.Context(), app, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			f.t.Fatal(err)
		}
		return at
	}
}

// handled is "the refresh requested at at has been handled".
func handled(at metav1.MicroTime) func(*gitopsv1alpha1.Application) bool {
	return func(a *gitopsv1alpha1.Application) bool {
		r := a.Status.Refresh
		return r != nil && r.HandledAt != nil && r.HandledAt.Equal(&at)
	}
}

// TestRefreshLooksForNewCommitsBeforeTheInterval: with the interval at an hour, a commit pushed
// after the last look is seen at once when a refresh is requested — an automated Application
// syncs it, a manual one reports OutOfSync at it — though a listing of the repository a moment
// old (younger than the listings' reuse age) is in the cache; the refresh is marked handled.
func TestRefreshLooksForNewCommitsBeforeTheInterval(t *testing.T) {
	f := newFixture(t)
	first := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	hourly := func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Interval = &metav1.Duration{Duration: time.Hour}
	}
	f.create("auto", hourly)
	f.create("manual", func(a *gitopsv1alpha1.Application) { hourly(a); a.Spec.SyncPolicy.Automated = nil })
	f.waitFor("auto", "Synced at the first commit", synced(first))
	f.waitFor("manual", "compared at the first commit", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == first && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})

	second := f.commit(map[string]string{"settings.yaml": configMap("settings", "2")})
	auto := f.requestRefresh("auto")
	manual := f.requestRefresh("manual")

	app := f.waitFor("auto", "Synced at the second commit and the refresh handled", func(a *gitopsv1alpha1.Application) bool {
		return synced(second)(a) && handled(auto)(a)
	})
	if r := app.Status.Refresh; r.RequestedBy != "ci" || !r.RequestedAt.Equal(&auto) {
		t.Errorf("status.refresh = %+v; the controller must keep the request as it was made", r)
	}
	f.waitLive("settings", "2", true)
	f.waitFor("manual", "OutOfSync at the second commit and the refresh handled", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == second && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync && handled(manual)(a)
	})
}

func TestRefreshRequestsAreReconciled(t *testing.T) {
	at := func(sec int64, handledSec int64) *gitopsv1alpha1.Application {
		a := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
		a.Status.Refresh = &gitopsv1alpha1.RefreshStatus{RequestedAt: metav1.NewMicroTime(time.Unix(sec, 0))}
		if handledSec > 0 {
			h := metav1.NewMicroTime(time.Unix(handledSec, 0))
			a.Status.Refresh.HandledAt = &h
		}
		return a
	}
	none := &gitopsv1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Generation: 1}}
	cases := []struct {
		name     string
		old, cur *gitopsv1alpha1.Application
		want     bool
	}{
		{"first refresh requested", none, at(10, 0), true},
		{"refresh requested after a handled one", at(10, 10), at(20, 10), true},
		{"refresh requested while one is pending", at(10, 0), at(20, 0), true},
		{"the controller marked it handled", at(10, 0), at(10, 10), false},
		{"status written with the refresh still pending", at(10, 0), at(10, 0), false},
	}
	for _, tc := range cases {
		if got := needsReconcile(tc.old, tc.cur); got != tc.want {
			t.Errorf("%s: needsReconcile = %v, want %v", tc.name, got, tc.want)
		}
	}
}
