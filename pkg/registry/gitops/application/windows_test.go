package application_test

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/syncwindow"
)

// windowedStorage is Application storage whose /sync and /rollback ask the SyncWindows stored
// beside them (the same etcd), at a fixed time: Monday 2026-12-07 12:30 UTC.
func windowedStorage(t *testing.T, allowed grants) (application.Storage, *syncwindow.REST) {
	t.Helper()
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	windows, err := syncwindow.NewStorage(apiserver.Scheme, restOptionsGetter{config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(windows.DestroyFunc)
	now := time.Date(2026, 12, 7, 12, 30, 0, 0, time.UTC)
	st, err := application.NewStorage(apiserver.Scheme, restOptionsGetter{config}, application.Options{
		Windows: &application.WindowGate{Authorizer: authorizer.AuthorizerFunc(allowed.Authorize), Windows: windows.ListIn,
			Now: func() time.Time { return now }},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Application.DestroyFunc)
	return st, windows
}

func createWindow(t *testing.T, windows *syncwindow.REST, namespace, name string, spec gitops.SyncWindowSpec) {
	t.Helper()
	w := &gitops.SyncWindow{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: spec}
	if _, err := windows.Create(ctxFor(namespace, nil), w, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("create window %s: %v", name, err)
	}
}

// lunch is a deny window in force at the test's time, 12:00 to 13:00 UTC every day.
func lunch(mutate ...func(*gitops.SyncWindowSpec)) gitops.SyncWindowSpec {
	s := gitops.SyncWindowSpec{Kind: "deny", Schedule: "0 12 * * *", Duration: metav1.Duration{Duration: time.Hour},
		TimeZone: "UTC", Selector: &metav1.LabelSelector{}}
	for _, m := range mutate {
		m(&s)
	}
	return s
}

// TestADenyWindowInForceRefusesSyncAndRollback: while a deny window holds an Application, /sync
// and /rollback answer 409 naming the window and when it ends, and record nothing; a dry run,
// which changes nothing, still runs.
func TestADenyWindowInForceRefusesSyncAndRollback(t *testing.T) {
	st, windows := windowedStorage(t, grants{})
	create(t, st, validApplication("team", "web"))
	createWindow(t, windows, "team", "freeze", lunch())
	bob := &user.DefaultInfo{Name: "bob"}

	_, err := st.Sync.Create(ctxFor("team", bob), "web", syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{})
	wantRefused(t, err, "sync", "deny window team/freeze is in force until 2026-12-07T13:00:00Z", "spec.overrideSyncWindows")
	_, err = st.Rollback.Create(ctxFor("team", bob), "web", &gitops.ApplicationRollback{}, nil, &metav1.CreateOptions{})
	wantRefused(t, err, "rollback", "rollback refused: deny window team/freeze is in force until 2026-12-07T13:00:00Z")
	if op := get(t, st, "team", "web").Status.Operation; op != nil {
		t.Fatalf("a refused request recorded operation %+v", op)
	}

	if _, err := st.Sync.Create(ctxFor("team", bob), "web", syncRequest("", gitops.ApplicationSyncSpec{DryRun: true}), nil, &metav1.CreateOptions{}); err != nil {
		t.Errorf("a dry run during the window: %v", err)
	}
}

// TestSyncWindowsThatDoNotHoldTheApplicationLetSyncsThrough: a window of another namespace, one
// whose selector does not match, one not in force now, and one with manualSync.
func TestSyncWindowsThatDoNotHoldTheApplicationLetSyncsThrough(t *testing.T) {
	st, windows := windowedStorage(t, grants{})
	bob := &user.DefaultInfo{Name: "bob"}
	for i, tc := range []struct {
		name      string
		namespace string
		spec      gitops.SyncWindowSpec
	}{
		{"another namespace", "other", lunch()},
		{"another selector", "team", lunch(func(s *gitops.SyncWindowSpec) {
			s.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"team": "b"}}
		})},
		{"not in force", "team", lunch(func(s *gitops.SyncWindowSpec) { s.Schedule = "0 20 * * *" })},
		{"manualSync", "team", lunch(func(s *gitops.SyncWindowSpec) { s.ManualSync = true })},
	} {
		app := validApplication("team", "app"+string(rune('a'+i)))
		create(t, st, app)
		createWindow(t, windows, tc.namespace, "w"+string(rune('a'+i)), tc.spec)
		if _, err := st.Sync.Create(ctxFor("team", bob), app.Name, syncRequest("", gitops.ApplicationSyncSpec{}), nil, &metav1.CreateOptions{}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		// Each window stays: none of them holds the next case's Application either.
	}
}

// TestOverridingSyncWindowsTakesItsOwnVerb: spec.overrideSyncWindows runs the sync or rollback
// through a deny window only for a user allowed "override syncwindows" in the namespace; anyone
// else gets 403 naming the verb, window or not.
func TestOverridingSyncWindowsTakesItsOwnVerb(t *testing.T) {
	st, windows := windowedStorage(t, grants{"carol override syncwindows team/": true})
	create(t, st, validApplication("team", "web"))
	createWindow(t, windows, "team", "freeze", lunch())
	override := gitops.ApplicationSyncSpec{OverrideSyncWindows: true}

	_, err := st.Sync.Create(ctxFor("team", &user.DefaultInfo{Name: "bob"}), "web", syncRequest("", override), nil, &metav1.CreateOptions{})
	wantForbidden(t, err, "bob overriding", "spec.overrideSyncWindows", `user "bob" may not override sync windows in namespace team`, "verb override on syncwindows.gitops.ferry.dev")
	_, err = st.Rollback.Create(ctxFor("team", &user.DefaultInfo{Name: "bob"}), "web",
		&gitops.ApplicationRollback{Spec: gitops.ApplicationRollbackSpec{OverrideSyncWindows: true}}, nil, &metav1.CreateOptions{})
	wantForbidden(t, err, "bob overriding a rollback", "verb override on syncwindows")
	// Outside the namespace granted, carol is bob.
	create(t, st, validApplication("other", "web"))
	_, err = st.Sync.Create(ctxFor("other", &user.DefaultInfo{Name: "carol"}), "web", syncRequest("", override), nil, &metav1.CreateOptions{})
	wantForbidden(t, err, "carol in another namespace", "verb override on syncwindows")

	// A rollback carol overrides passes the window and stops at the history (none here).
	_, err = st.Rollback.Create(ctxFor("team", &user.DefaultInfo{Name: "carol"}), "web",
		&gitops.ApplicationRollback{Spec: gitops.ApplicationRollbackSpec{OverrideSyncWindows: true}}, nil, &metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "status.history holds no successful sync") {
		t.Errorf("carol's rollback: want the history's 422, past the window; got %v", err)
	}
	if _, err := st.Sync.Create(ctxFor("team", &user.DefaultInfo{Name: "carol"}), "web", syncRequest("", override), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("carol overriding: %v", err)
	}
	if op := get(t, st, "team", "web").Status.Operation; op == nil || op.RequestedBy.Username != "carol" {
		t.Errorf("carol's sync was not recorded: %+v", op)
	}
}

func wantRefused(t *testing.T, err error, what string, parts ...string) {
	t.Helper()
	if !apierrors.IsConflict(err) {
		t.Fatalf("%s: want 409 Conflict, got %v", what, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: the refusal does not say %q: %v", what, p, err)
		}
	}
}
