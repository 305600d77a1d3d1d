package v1alpha1

import "time"

// RefreshPathsAnnotation, on an Application, lists more paths of its repository, comma
// separated, whose change by a push (received by a Receiver) refreshes it, beside its sources'
// own paths: a kustomize base or a values file outside spec.source.path.
const RefreshPathsAnnotation = "gitops.ferry.dev/refresh-paths"

// TrackedRevisionAnnotation, on an Application an ApplicationSet with a rolling sync generated,
// is the revision its template names (a branch, a tag, HEAD), one per source separated by
// RevisionSeparator, where spec names the commit the set resolved it to. A push to that branch
// refreshes the Application, which has its set resolve the branch again.
const TrackedRevisionAnnotation = "gitops.ferry.dev/tracked-revision"

// PendingRefresh returns when the refresh the Application waits for was requested: a refresh in
// status.refresh that the controller has not handled yet. ok is false when there is none.
func PendingRefresh(app *Application) (requestedAt time.Time, ok bool) {
	r := app.Status.Refresh
	if r == nil || r.RequestedAt.IsZero() {
		return time.Time{}, false
	}
	if r.HandledAt != nil && !r.HandledAt.Before(&r.RequestedAt) {
		return time.Time{}, false
	}
	return r.RequestedAt.Time, true
}
