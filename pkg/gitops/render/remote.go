package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"strings"
)

// RemoteBase is a kustomization's reference to a directory of another Git repository, in any
// of the forms kustomize accepts (https://host/org/repo//dir?ref=v1, github.com/org/repo/dir,
// git@host:org/repo.git//dir, git::..., gh:org/repo).
type RemoteBase struct {
	// RepoURL is the repository to fetch, as Ferry's Git cache takes it.
	RepoURL string
	// Dir is the directory of the base in that repository, "" for its root.
	Dir string
	// Revision is the branch, tag or commit of ?ref= (or ?version=); "" means HEAD.
	Revision string
}

// RemoteReader reads remote bases: it resolves revision in repoURL and returns a reader of that
// commit's directories, within the render's limits. Ferry's engine reads through its Git cache,
// anonymously (a remote base is public code, or the Application could not name it), with
// --git-timeout and the cache's size limits; nil refuses remote bases.
type RemoteReader func(repoURL, revision string) (TreeReader, error)

// remoteMount is where a remote base's repository appears among the paths of a render: beside
// the Application's repository, under a name no repository path takes (checked).
const remoteMount = ".ferry-remote"

// mountPoint is the directory a remote repository at a revision is read under.
func mountPoint(b RemoteBase) string {
	sum := sha256.Sum256([]byte(b.RepoURL + "\x00" + b.Revision))
	return remoteMount + "/" + hex.EncodeToString(sum[:8])
}

// isRemoteFile reports whether a remote reference names one file, which kustomize downloads over
// HTTP(S) itself, rather than a directory of a Git repository.
func isRemoteFile(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	switch strings.ToLower(path.Ext(u.Path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// parseRemoteBase reads a remote base reference the way kustomize does: the repository is what
// precedes "_git/<name>", "//" or ".git", or else the first two path segments (org/repo);
// the rest is the directory.
func parseRemoteBase(ref string) (RemoteBase, error) {
	s := strings.TrimSpace(ref)
	if len(s) >= 5 && strings.EqualFold(s[:5], "git::") {
		s = s[5:]
	}
	if len(s) >= 3 && strings.EqualFold(s[:3], "gh:") {
		s = "https://github.com/" + s[3:]
	}
	s, query, _ := strings.Cut(s, "?")
	var b RemoteBase
	if query != "" {
		values, err := url.ParseQuery(query)
		if err != nil {
			return b, fmt.Errorf("its query %q is not valid: %v", query, err)
		}
		b.Revision = values.Get("version")
		if r := values.Get("ref"); r != "" {
			b.Revision = r
		}
	}

	// The repository's host part, and the path after it.
	var prefix, rest string
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "https://"), strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "ssh://"):
		scheme, after, _ := strings.Cut(s, "://")
		host, p, ok := strings.Cut(after, "/")
		if !ok || host == "" {
			return b, fmt.Errorf("it names no repository path")
		}
		prefix, rest = strings.ToLower(scheme)+"://"+host+"/", p
	case strings.HasPrefix(lower, "file://"):
		return b, fmt.Errorf("file:// remote bases read the server's disk: refused")
	case strings.HasPrefix(lower, "github.com/"):
		prefix, rest = "https://github.com/", s[len("github.com/"):]
	default:
		// scp-like: user@host:path.
		userHost, p, ok := strings.Cut(s, ":")
		if !ok || !strings.Contains(userHost, "@") || strings.Contains(userHost, "/") {
			return b, fmt.Errorf("it is not a form kustomize accepts for a remote base (https://host/org/repo//dir?ref=..., git@host:org/repo.git//dir, github.com/org/repo/dir)")
		}
		prefix, rest = userHost+":", p
	}

	var repoPath, dir string
	switch {
	case strings.Contains(rest, "_git/"):
		i := strings.Index(rest, "_git/") + len("_git/")
		name, sub, _ := strings.Cut(rest[i:], "/")
		repoPath, dir = rest[:i]+name, sub
	case strings.Contains(rest, "//"):
		repoPath, dir, _ = strings.Cut(rest, "//")
	case strings.Contains(rest, ".git"):
		i := strings.Index(rest, ".git") + len(".git")
		repoPath, dir = rest[:i], rest[i:]
	default:
		segments := strings.SplitN(rest, "/", 3)
		if len(segments) < 2 {
			return b, fmt.Errorf("it names no org/repo")
		}
		repoPath = segments[0] + "/" + segments[1]
		if len(segments) == 3 {
			dir = segments[2]
		}
	}
	if repoPath == "" {
		return b, fmt.Errorf("it names no repository")
	}
	dir = path.Clean(strings.Trim(dir, "/"))
	if dir == ".." || strings.HasPrefix(dir, "../") {
		return b, fmt.Errorf("its directory leaves the repository")
	}
	if dir == "." {
		dir = ""
	}
	b.RepoURL, b.Dir = prefix+repoPath, dir
	return b, nil
}
