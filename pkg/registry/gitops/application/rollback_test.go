package application

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

func TestRollbackTarget(t *testing.T) {
	const (
		a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
		c = "cccccccccccccccccccccccccccccccccccccccc"
	)
	// Newest first, as the controller keeps it: c is synced now; before it a dry run at b, a
	// failed sync at b, a sync at c again, and a good sync at a.
	app := &gitops.Application{Status: gitops.ApplicationStatus{
		Sync: gitops.SyncStatus{Revision: c},
		History: []gitops.OperationRecord{
			{ID: "now", Phase: gitops.OperationSucceeded, SyncedRevision: c},
			{ID: "dry", Phase: gitops.OperationSucceeded, SyncedRevision: b, DryRun: true},
			{ID: "failed", Phase: gitops.OperationFailed, SyncedRevision: b},
			{ID: "again", Phase: gitops.OperationSucceeded, SyncedRevision: c},
			{ID: "good", Phase: gitops.OperationSucceeded, SyncedRevision: a},
			{ID: "good-old", Phase: gitops.OperationSucceeded, SyncedRevision: b},
		},
	}}
	for _, tc := range []struct {
		id, want, wantErr string
	}{
		{"", "good", ""}, // skips the current revision, dry runs and failures
		{"good", "good", ""},
		{"dry", "", "spec.id: Invalid value: \"dry\": operation dry was a Succeeded dry run"},
		{"failed", "", "operation failed was a Failed sync"},
		{"again", "", "synced at that revision (cccccccccccc) now"},
		{"gone", "", `spec.id: Not found: "gone"`},
		{"good-o", "good-old", ""}, // kubectl ferry history shows the start of an id
		{"fa", "", "operation failed was a Failed sync"},
		{"goo", "", "names more than one entry of status.history (good, good-old)"},
	} {
		t.Run("id="+tc.id, func(t *testing.T) {
			got, err := rollbackTarget(app, tc.id)
			if tc.wantErr != "" {
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want a 422 containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.ID != tc.want {
				t.Fatalf("got %+v, %v; want entry %s", got, err, tc.want)
			}
		})
	}

	// Nothing to go back to: the only successful syncs are at the current revision.
	only := &gitops.Application{Status: gitops.ApplicationStatus{
		Sync:    gitops.SyncStatus{Revision: c},
		History: []gitops.OperationRecord{{ID: "now", Phase: gitops.OperationSucceeded, SyncedRevision: c}},
	}}
	if _, err := rollbackTarget(only, ""); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.id: Required value: status.history holds no successful sync at another revision") {
		t.Errorf("no target: %v", err)
	}
}
