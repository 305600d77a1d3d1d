package v1alpha1

import "strings"

// ShortRevision shortens each full commit SHA of revision (the revisions of several sources are
// separated by spaces, as in status.sourceRevision) to 12 characters, as Ferry's conditions and
// Events, kubectl ferry and the web UI show them; a branch, a tag or a chart version is left as
// it is.
func ShortRevision(revision string) string {
	revs := strings.Split(revision, " ")
	for i, r := range revs {
		if len(r) == 40 && strings.Trim(strings.ToLower(r), "0123456789abcdef") == "" {
			revs[i] = r[:12]
		}
	}
	return strings.Join(revs, " ")
}
