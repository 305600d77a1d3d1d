package application_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

func refreshRequest(name, reason string) *gitops.ApplicationRefresh {
	return &gitops.ApplicationRefresh{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: gitops.ApplicationRefreshSpec{Reason: reason}}
}

func TestRefreshRecordsTheRequestWithAuthenticatedRequester(t *testing.T) {
	st := newStorage(t)
	before := create(t, st, validApplication("ns", "a"))
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{"ci"}}

	obj, err := st.Refresh.Create(ctxFor("ns", alice), "a", refreshRequest("a", "push abc to main"), rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	resp := obj.(*gitops.ApplicationRefresh)
	app := get(t, st, "ns", "a")
	r := app.Status.Refresh
	if r == nil {
		t.Fatal("no refresh recorded in status.refresh")
	}
	if r.RequestedBy != "alice" || r.Reason != "push abc to main" || r.HandledAt != nil {
		t.Errorf("status.refresh = %+v; want requested by alice with the reason, not handled", r)
	}
	if !r.RequestedAt.Equal(&resp.Status.RequestedAt) || r.RequestedAt.IsZero() {
		t.Errorf("status.refresh.requestedAt %v, response %v; want the same, set", r.RequestedAt, resp.Status.RequestedAt)
	}
	if r.RequestedAt.Nanosecond()%1000 != 0 {
		t.Errorf("requestedAt %v has sub-microsecond digits the API cannot keep", r.RequestedAt)
	}
	if resp.Status.ApplicationResourceVersion != app.ResourceVersion {
		t.Errorf("response resourceVersion %s, stored %s", resp.Status.ApplicationResourceVersion, app.ResourceVersion)
	}
	if app.Generation != before.Generation || app.Status.Operation != nil {
		t.Errorf("a refresh changed the generation or recorded an operation")
	}
}

func TestRefreshKeepsTheHandledMarkAndRefreshesAgain(t *testing.T) {
	st := newStorage(t)
	create(t, st, validApplication("ns", "a"))
	bob := &user.DefaultInfo{Name: "bob"}
	if _, err := st.Refresh.Create(ctxFor("ns", bob), "a", refreshRequest("", ""), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The controller handles it.
	app := get(t, st, "ns", "a")
	handled := app.Status.Refresh.RequestedAt
	app.Status.Refresh.HandledAt = &handled
	if _, err := update(t, st.Status, app); err != nil {
		t.Fatal(err)
	}
	// A second refresh is pending again, and keeps what was handled.
	if _, err := st.Refresh.Create(ctxFor("ns", bob), "a", refreshRequest("", "again"), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("a refresh after a handled one: %v", err)
	}
	r := get(t, st, "ns", "a").Status.Refresh
	if r.HandledAt == nil || !r.HandledAt.Equal(&handled) || !handled.Before(&r.RequestedAt) || r.Reason != "again" {
		t.Errorf("status.refresh = %+v; want the new request pending after the handled %v", r, handled)
	}
}

func TestRefreshRefusesWhatItCannotRecord(t *testing.T) {
	suspended := validApplication("ns", "suspended")
	suspended.Spec.Suspend = true
	for _, tc := range []struct {
		name, url string
		req       *gitops.ApplicationRefresh
		want      func(error) bool
		mention   string
	}{
		{"a wrong name", "a", refreshRequest("b", ""), apierrors.IsBadRequest, "does not match"},
		{"a reason too long", "a", refreshRequest("a", strings.Repeat("x", 257)), apierrors.IsInvalid, "spec.reason"},
		{"a suspended Application", "suspended", refreshRequest("", ""), apierrors.IsConflict, "suspended"},
		{"a missing Application", "ghost", refreshRequest("", ""), apierrors.IsNotFound, "ghost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStorage(t)
			create(t, st, validApplication("ns", "a"))
			create(t, st, suspended.DeepCopy())
			_, err := st.Refresh.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), tc.url, tc.req, nil, &metav1.CreateOptions{})
			if !tc.want(err) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v; want an error that mentions %q", err, tc.mention)
			}
			for _, name := range []string{"a", "suspended"} {
				if r := get(t, st, "ns", name).Status.Refresh; r != nil {
					t.Errorf("a refused refresh recorded %+v on %s", r, name)
				}
			}
		})
	}
}

func TestRefreshDryRunLeavesStorageUnchanged(t *testing.T) {
	st := newStorage(t)
	before := create(t, st, validApplication("ns", "a"))
	obj, err := st.Refresh.Create(ctxFor("ns", &user.DefaultInfo{Name: "bob"}), "a", refreshRequest("a", ""), nil, &metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run refresh: %v", err)
	}
	if obj.(*gitops.ApplicationRefresh).Status.RequestedAt.IsZero() {
		t.Error("a dry-run refresh should still say what it would record")
	}
	after := get(t, st, "ns", "a")
	if after.ResourceVersion != before.ResourceVersion || after.Status.Refresh != nil {
		t.Errorf("dry run wrote: resourceVersion %s -> %s, refresh %+v", before.ResourceVersion, after.ResourceVersion, after.Status.Refresh)
	}
}

func TestSpecUpdateCannotWriteRefresh(t *testing.T) {
	st := newStorage(t)
	app := create(t, st, validApplication("ns", "a"))
	app.Spec.Source.Path = "apps/y"
	app.Status.Refresh = &gitops.RefreshStatus{RequestedAt: metav1.NowMicro(), RequestedBy: "mallory"}
	updated, err := update(t, st.Application, app)
	if err != nil {
		t.Fatal(err)
	}
	if updated.Status.Refresh != nil {
		t.Errorf("an update of the Application wrote status.refresh %+v: only POST .../refresh may", updated.Status.Refresh)
	}
}
