package notify

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Firing is a trigger that holds for an Application now, and the revision and state it holds
// for: an Alert sends it once per Key.
type Firing struct {
	Trigger v1alpha1.AlertTrigger
	// Key is the revision and state: the same Key is the same news.
	Key string
	// Revision is the commit it is about; Reason and Message the condition that says why.
	Revision string
	Reason   string
	Message  string
}

// failureReasons are the reasons of a Ready False condition that a sync failed (the stages'
// errors), as opposed to the Application only not being ready yet (OutOfSync, Progressing,
// DependencyNotReady, Suspended...).
var failureReasons = map[string]bool{
	v1alpha1.ReasonGitFailed: true, v1alpha1.ReasonCredentialsError: true, v1alpha1.ReasonRenderFailed: true,
	v1alpha1.ReasonApplyFailed: true, v1alpha1.ReasonForbidden: true, v1alpha1.ReasonPruneFailed: true,
	v1alpha1.ReasonWaveFailed: true, v1alpha1.ReasonHookFailed: true, v1alpha1.ReasonChartFailed: true,
	v1alpha1.ReasonDecryptionFailed: true, v1alpha1.ReasonClusterUnavailable: true, v1alpha1.ReasonInternalError: true,
}

// Firings are the triggers app's status holds now, Deleted aside (that one is news of the
// informer, see DeletedFiring). They are read from status alone, as the Application controller
// wrote it:
//
//   - Created: the Application exists (key: its UID, so once per object).
//   - SyncRunning: a requested sync operation is Running (key: the operation's ID).
//   - SyncFailed: Ready is False with the reason of a failed stage (key: the source revision
//     and the reason).
//   - SyncSucceeded: Synced is True and no sync is failing (key: the synced revision).
//   - Deployed: synced and Healthy (key: the synced revision).
//   - HealthDegraded: health is Degraded (key: the synced revision and when Healthy turned
//     False, so a recovery and a relapse is news again).
//   - Drifted: OutOfSync while the synced revision is still the source's, so the difference
//     was made in the cluster, not in Git (key: the revision and when Synced turned False); or,
//     with selfHeal, which repairs a drift before it shows as OutOfSync, the last repair
//     (status.lastSelfHeal; key: its revision and time).
func Firings(app *v1alpha1.Application) []Firing {
	st := &app.Status
	out := []Firing{{Trigger: v1alpha1.AlertTriggerCreated, Key: string(app.UID)}}
	ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
	failing := ready != nil && ready.Status == metav1.ConditionFalse && failureReasons[ready.Reason]
	if op := st.Operation; op != nil && op.Phase == v1alpha1.OperationRunning {
		rev := op.Revision
		if rev == "" {
			rev = st.SourceRevision
		}
		out = append(out, Firing{Trigger: v1alpha1.AlertTriggerSyncRunning, Key: "operation/" + op.ID, Revision: rev, Reason: v1alpha1.ReasonOperationRunning, Message: op.Message})
	}
	if failing {
		out = append(out, Firing{Trigger: v1alpha1.AlertTriggerSyncFailed, Key: st.SourceRevision + "/" + ready.Reason, Revision: st.SourceRevision, Reason: ready.Reason, Message: ready.Message})
	}
	synced := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionSynced)
	if !failing && st.Sync.Revision != "" && synced != nil && synced.Status == metav1.ConditionTrue {
		out = append(out, Firing{Trigger: v1alpha1.AlertTriggerSyncSucceeded, Key: st.Sync.Revision, Revision: st.Sync.Revision, Reason: synced.Reason, Message: synced.Message})
		if st.Health.Status == v1alpha1.HealthHealthy {
			out = append(out, Firing{Trigger: v1alpha1.AlertTriggerDeployed, Key: st.Sync.Revision, Revision: st.Sync.Revision, Reason: string(v1alpha1.HealthHealthy), Message: synced.Message})
		}
	}
	if st.Health.Status == v1alpha1.HealthDegraded {
		since := ""
		if h := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionHealthy); h != nil {
			since = h.LastTransitionTime.UTC().Format(time.RFC3339)
		}
		out = append(out, Firing{Trigger: v1alpha1.AlertTriggerHealthDegraded, Key: st.Sync.Revision + "@" + since, Revision: st.Sync.Revision, Reason: string(v1alpha1.HealthDegraded), Message: st.Health.Message})
	}
	if !failing && st.Sync.Status == v1alpha1.SyncStatusOutOfSync && st.Sync.Revision != "" && st.Sync.Revision == st.SourceRevision &&
		synced != nil && synced.Status == metav1.ConditionFalse && synced.Reason == v1alpha1.ReasonOutOfSync {
		out = append(out, Firing{Trigger: v1alpha1.AlertTriggerDrifted, Key: st.Sync.Revision + "@" + synced.LastTransitionTime.UTC().Format(time.RFC3339), Revision: st.Sync.Revision, Reason: synced.Reason, Message: synced.Message})
	} else if heal := st.LastSelfHeal; heal != nil {
		msg := fmt.Sprintf("selfHeal put %d changed object(s) back to revision %s: %s", heal.Count, shortRevision(heal.Revision), strings.Join(heal.Objects, ", "))
		if int(heal.Count) > len(heal.Objects) {
			msg += fmt.Sprintf(" and %d more", int(heal.Count)-len(heal.Objects))
		}
		out = append(out, Firing{Trigger: v1alpha1.AlertTriggerDrifted, Key: heal.Revision + "@healed@" + heal.Time.UTC().Format(time.RFC3339), Revision: heal.Revision, Reason: "SelfHealed", Message: msg})
	}
	return out
}

// DeletedFiring is the Deleted trigger of an Application the informer saw go.
func DeletedFiring(app *v1alpha1.Application) Firing {
	return Firing{Trigger: v1alpha1.AlertTriggerDeleted, Key: string(app.UID), Revision: app.Status.Sync.Revision}
}

// DataOf is the data model of a firing for app.
func DataOf(app *v1alpha1.Application, f Firing, now time.Time) Data {
	repo := app.Spec.Source.RepoURL
	if repo == "" && len(app.Spec.Sources) > 0 {
		repo = app.Spec.Sources[0].RepoURL
	}
	return Data{
		Trigger:       string(f.Trigger),
		Application:   AppRef{Namespace: app.Namespace, Name: app.Name},
		Revision:      f.Revision,
		ShortRevision: shortRevision(f.Revision),
		RepoURL:       repo,
		SyncStatus:    string(app.Status.Sync.Status),
		Health:        string(app.Status.Health.Status),
		Reason:        f.Reason,
		Message:       f.Message,
		Time:          now.UTC(),
	}
}
