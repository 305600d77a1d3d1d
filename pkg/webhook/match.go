package webhook

import (
	"net/url"
	"strings"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// NormalizeURL reduces a repository URL to host/path, so that the https, http, ssh and scp-like
// (git@host:org/repo) forms of one repository compare equal: no scheme, user or port, no
// trailing "/" or ".git", lower case (GitHub, GitLab, Gitea and Bitbucket treat owner and
// repository names without regard to case). "" when it is no URL.
func NormalizeURL(raw string) string {
	s := strings.TrimSpace(raw)
	var host, path string
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return ""
		}
		host, path = u.Hostname(), u.Path
	} else if at, colon := strings.Index(s, "@"), strings.Index(s, ":"); colon > 0 && (at < 0 || at < colon) && !strings.Contains(s[:colon], "/") {
		// scp-like: [user@]host:path
		host, path = s[at+1:colon], s[colon+1:]
	} else {
		return ""
	}
	path = strings.Trim(path, "/")
	path = strings.TrimSuffix(path, ".git")
	path = strings.Trim(path, "/")
	if host == "" || path == "" {
		return ""
	}
	return strings.ToLower(host + "/" + path)
}

// Concerns reports whether push concerns app: one of its Git sources is the pushed repository,
// tracks a ref the push moved (or names none), and has a path (or one listed in the annotation
// gitops.ferry.dev/refresh-paths) under which a file changed.
func Concerns(app *gitopsv1alpha1.Application, push Push) bool {
	pushed := map[string]bool{}
	for _, u := range push.URLs {
		if n := NormalizeURL(u); n != "" {
			pushed[n] = true
		}
	}
	extra := refreshPaths(app)
	sources := app.Spec.Sources
	if len(sources) == 0 {
		sources = []gitopsv1alpha1.ApplicationSource{app.Spec.Source}
	}
	tracked := strings.Split(app.Annotations[gitopsv1alpha1.TrackedRevisionAnnotation], gitopsv1alpha1.RevisionSeparator)
	for i, src := range sources {
		revision := src.Revision
		if len(tracked) == len(sources) && app.Annotations[gitopsv1alpha1.TrackedRevisionAnnotation] != "" {
			revision = tracked[i] // the set named the branch by its commit; the branch is what moves
		}
		if src.Chart != "" || !pushed[NormalizeURL(src.RepoURL)] || !tracksPushedRef(revision, push.Refs) {
			continue
		}
		if touches(push.Paths, append([]string{src.Path}, extra...)) {
			return true
		}
	}
	return false
}

// refreshPaths are the extra paths of the annotation gitops.ferry.dev/refresh-paths.
func refreshPaths(app *gitopsv1alpha1.Application) []string {
	var out []string
	for _, p := range strings.Split(app.Annotations[gitopsv1alpha1.RefreshPathsAnnotation], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// tracksPushedRef reports whether a source at revision may have moved with a push of refs. A
// branch push moves that branch only: a source on another branch, a tag or a commit SHA did not
// move. The default branch ("" or HEAD) may be any, and a push of tags or of no named ref may
// move anything, so those always match.
func tracksPushedRef(revision string, refs []string) bool {
	if len(refs) == 0 || revision == "" || revision == "HEAD" {
		return true
	}
	for _, ref := range refs {
		branch, ok := strings.CutPrefix(ref, "refs/heads/")
		if !ok || revision == branch || revision == ref {
			return true
		}
	}
	return false
}

// touches reports whether a changed file lies under one of dirs; nil changed means every path,
// and a dir of "" or "." is the whole repository.
func touches(changed []string, dirs []string) bool {
	if changed == nil {
		return true
	}
	for _, d := range dirs {
		d = strings.Trim(strings.TrimPrefix(strings.TrimSpace(d), "./"), "/")
		if d == "" || d == "." {
			return true
		}
		for _, f := range changed {
			f = strings.TrimPrefix(f, "/")
			if f == d || strings.HasPrefix(f, d+"/") {
				return true
			}
		}
	}
	return false
}
