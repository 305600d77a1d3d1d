package webhook

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func TestNormalizeURL(t *testing.T) {
	const want = "github.com/org/repo"
	for _, in := range []string{
		"https://github.com/org/repo.git",
		"https://github.com/org/repo",
		"https://github.com/org/repo/",
		"http://github.com/org/repo.git",
		"https://GitHub.com/Org/Repo.git",
		"https://user@github.com:443/org/repo.git",
		"ssh://git@github.com/org/repo.git",
		"ssh://git@github.com:22/org/repo",
		"git@github.com:org/repo.git",
		"github.com:org/repo",
		"git://github.com/org/repo.git",
	} {
		if got := NormalizeURL(in); got != want {
			t.Errorf("NormalizeURL(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"https://github.com/org/other.git":          "github.com/org/other",
		"https://gitlab.com/org/repo.git":           "gitlab.com/org/repo",
		"https://github.com/org/repo.github":        "github.com/org/repo.github",
		"https://git.example.com/scm/proj/repo.git": "git.example.com/scm/proj/repo",
		"":                 "",
		"repo":             "",
		"/srv/git/repo":    "",
		"https://":         "",
		"file:///srv/repo": "",
	} {
		if got := NormalizeURL(in); got != want {
			t.Errorf("NormalizeURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func app(repoURL, revision, path string, annotations map[string]string) *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "shop", Annotations: annotations},
		Spec:       gitopsv1alpha1.ApplicationSpec{Source: gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Revision: revision, Path: path}},
	}
}

func TestConcerns(t *testing.T) {
	const repo = "https://github.com/org/mono.git"
	push := Push{
		URLs:  []string{"https://github.com/org/mono.git", "git@github.com:org/mono.git"},
		Refs:  []string{"refs/heads/main"},
		Paths: []string{"apps/web/deploy.yaml", "apps/webshop-docs/README.md", "base/common.yaml"},
	}
	allPaths := push
	allPaths.Paths = nil
	tagPush := push
	tagPush.Refs = []string{"refs/tags/v1.2.0"}
	extra := map[string]string{gitopsv1alpha1.RefreshPathsAnnotation: " charts/x , base"}
	for _, tc := range []struct {
		name string
		app  *gitopsv1alpha1.Application
		push Push
		want bool
	}{
		{"its path changed", app(repo, "main", "apps/web", nil), push, true},
		{"its path with ./ and a trailing /", app(repo, "main", "./apps/web/", nil), push, true},
		{"a file named as its path", app(repo, "main", "base/common.yaml", nil), push, true},
		{"a sibling with a longer name changed, not its path", app(repo, "main", "apps/webshop", nil), push, false},
		{"another path", app(repo, "main", "apps/cart", nil), push, false},
		{"the whole repository (empty path)", app(repo, "main", "", nil), push, true},
		{"the whole repository (.)", app(repo, "main", ".", nil), push, true},
		{"an annotated extra path changed", app(repo, "main", "apps/cart", extra), push, true},
		{"a payload without files: every path", app(repo, "main", "apps/cart", nil), allPaths, true},
		{"the ssh form of the repository", app("ssh://git@github.com/org/mono", "main", "apps/web", nil), push, true},
		{"another repository", app("https://github.com/org/other.git", "main", "apps/web", nil), push, false},
		{"another branch", app(repo, "release", "apps/web", nil), push, false},
		{"the branch by its full name", app(repo, "refs/heads/main", "apps/web", nil), push, true},
		{"the default branch", app(repo, "", "apps/web", nil), push, true},
		{"HEAD", app(repo, "HEAD", "apps/web", nil), push, true},
		{"a pinned commit", app(repo, "0123456789abcdef0123456789abcdef01234567", "apps/web", nil), push, false},
		{"a tag push may move any tag", app(repo, "v1.2.0", "apps/web", nil), tagPush, true},
		{"a commit a rolling set resolved from the pushed branch", app(repo, "0123456789abcdef0123456789abcdef01234567", "apps/web",
			map[string]string{gitopsv1alpha1.TrackedRevisionAnnotation: "main"}), push, true},
		{"a commit a rolling set resolved from another branch", app(repo, "0123456789abcdef0123456789abcdef01234567", "apps/web",
			map[string]string{gitopsv1alpha1.TrackedRevisionAnnotation: "release"}), push, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Concerns(tc.app, tc.push); got != tc.want {
				t.Errorf("Concerns = %v, want %v", got, tc.want)
			}
		})
	}

	// Several sources: any one of them.
	multi := app("", "", "", nil)
	multi.Spec.Sources = []gitopsv1alpha1.ApplicationSource{
		{RepoURL: "https://charts.example.com", Chart: "web", Revision: "1.0.0"},
		{RepoURL: "https://github.com/org/other.git", Path: "apps/web"},
		{RepoURL: repo, Revision: "main", Path: "base", Ref: "values"},
	}
	if !Concerns(multi, push) {
		t.Error("an Application whose second Git source is the pushed path is not concerned")
	}
	multi.Spec.Sources = multi.Spec.Sources[:2]
	if Concerns(multi, push) {
		t.Error("an Application with no source on the pushed repository is concerned")
	}
}
