package v1alpha1

import "strings"

// RevisionSeparator joins the revisions of spec.sources into one revision (status.sourceRevision,
// status.sync.revision, a /sync request's revision), the one the controller compares, records and
// syncs to. Git forbids spaces in refs, and neither a commit SHA nor a resolved chart version
// holds one.
const RevisionSeparator = " "

// RevisionList is the revision of each source of app that revision (one per source, joined by
// RevisionSeparator) holds, for status.sourceRevisions and status.sync.revisions; nil for an
// Application with spec.source.
func RevisionList(app *Application, revision string) []string {
	if len(app.Spec.Sources) == 0 || revision == "" {
		return nil
	}
	return strings.Split(revision, RevisionSeparator)
}

// ShortRevision shortens each full commit SHA of revision (the revisions of several sources are
// separated by spaces, as in status.sourceRevision) to 12 characters, as Ferry's conditions and
// Events, kubectl ferry and the web UI show them; a branch, a tag or a chart version is left as
// it is.
func ShortRevision(revision string) string {
	revs := strings.Split(revision, RevisionSeparator)
	for i, r := range revs {
		if len(r) == 40 && strings.Trim(strings.ToLower(r), "0123456789abcdef") == "" {
			revs[i] = r[:12]
		}
	}
	return strings.Join(revs, RevisionSeparator)
}
