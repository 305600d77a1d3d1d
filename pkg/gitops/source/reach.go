package source

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// A fetch brings the remote's branches and tags with everything reachable from them, so once
// the tip of every branch and tag the remote lists is in the cache, a commit that is not is
// reachable from none of them, and a fetch would not bring it either. Resolve then refuses a
// commit SHA without fetching: a loop of reads naming random SHAs (?revision= on /diff and
// /manifests, open to anyone who may view an Application) costs no fetch and no wait on the
// repository's write lock. A push adds a tip the cache lacks, so the next commit asked for is
// fetched once, as the Application's own resolve would have fetched it.

// fetchMayBring says whether a fetch of the repository listed in refs may bring commit sha: it
// is the tip of a listed branch or tag, or some listed tip is not in the cache yet.
func (e *repoEntry) fetchMayBring(refs map[plumbing.ReferenceName]*plumbing.Reference, sha string) bool {
	want := plumbing.NewHash(sha)
	var tips []plumbing.Hash
	for name, ref := range refs {
		if ref.Type() != plumbing.HashReference || !fetched(name) {
			continue
		}
		if ref.Hash() == want {
			return true
		}
		tips = append(tips, ref.Hash())
	}
	for _, tip := range tips {
		if !e.has(tip) {
			return true
		}
	}
	return false
}

// fetched says whether fetch brings the ref name: a branch or a tag (and a tag's peeled commit,
// listed as "<tag>^{}").
func fetched(name plumbing.ReferenceName) bool {
	return strings.HasPrefix(string(name), "refs/heads/") || strings.HasPrefix(string(name), "refs/tags/")
}
