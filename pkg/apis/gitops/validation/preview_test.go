package validation

import (
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
)

func preview(edit func(*gitops.ApplicationPreviewSpec)) *gitops.ApplicationPreview {
	p := &gitops.ApplicationPreview{Spec: gitops.ApplicationPreviewSpec{Application: "web", Revision: "pr-123"}}
	if edit != nil {
		edit(&p.Spec)
	}
	return p
}

// Every refusal of a preview request names its field, as kubectl prints it.
func TestValidateApplicationPreview(t *testing.T) {
	for name, tc := range map[string]struct {
		spec func(*gitops.ApplicationPreviewSpec)
		opts Options
		want string // "" means valid
	}{
		"valid":                   {},
		"a pull request's ref":    {spec: func(s *gitops.ApplicationPreviewSpec) { s.Revision = "refs/pull/123/head" }},
		"a fork":                  {spec: func(s *gitops.ApplicationPreviewSpec) { s.RepoURL = "https://git.example.com/someone/web.git" }},
		"no application":          {spec: func(s *gitops.ApplicationPreviewSpec) { s.Application = "" }, want: "spec.application: Required value"},
		"bad application name":    {spec: func(s *gitops.ApplicationPreviewSpec) { s.Application = "Web_1" }, want: `spec.application: Invalid value: "Web_1"`},
		"no revision":             {spec: func(s *gitops.ApplicationPreviewSpec) { s.Revision = "" }, want: "spec.revision: Required value"},
		"abbreviated commit":      {spec: func(s *gitops.ApplicationPreviewSpec) { s.Revision = "3f2a9c1" }, want: `spec.revision: Invalid value: "3f2a9c1"`},
		"double space":            {spec: func(s *gitops.ApplicationPreviewSpec) { s.Revision = "main  v1" }, want: "spec.revision: Invalid value"},
		"token in the fork's URL": {spec: func(s *gitops.ApplicationPreviewSpec) { s.RepoURL = "https://TOKEN@git.example.com/x.git" }, want: "spec.repoURL: Invalid value: \"<redacted>\""},
		"file fork refused":       {spec: func(s *gitops.ApplicationPreviewSpec) { s.RepoURL = "file:///etc" }, want: "spec.repoURL: Forbidden: file:// repositories are disabled"},
		"file fork allowed": {spec: func(s *gitops.ApplicationPreviewSpec) { s.RepoURL = "file:///srv/git/web.git" },
			opts: Options{AllowFileRepositories: true}},
		"sourceIndex without repoURL": {spec: func(s *gitops.ApplicationPreviewSpec) { s.SourceIndex = ptr.To[int32](1) }, want: "spec.sourceIndex: Forbidden"},
		"negative sourceIndex": {spec: func(s *gitops.ApplicationPreviewSpec) {
			s.RepoURL, s.SourceIndex = "https://git.example.com/x.git", ptr.To[int32](-1)
		}, want: "spec.sourceIndex: Invalid value: -1"},
	} {
		t.Run(name, func(t *testing.T) {
			errs := ValidateApplicationPreview(preview(tc.spec), tc.opts)
			got := errs.ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("refused: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", got, tc.want)
			}
		})
	}
}

// What a preview asks must fit the Application it names: a revision per source, a fork only of
// a Git source it can name.
func TestValidatePreviewAgainst(t *testing.T) {
	single := &gitops.Application{}
	single.Name = "web"
	single.Spec.Source = gitops.ApplicationSource{RepoURL: "https://git.example.com/org/web.git", Path: "app"}
	multi := &gitops.Application{}
	multi.Name = "web"
	multi.Spec.Sources = []gitops.ApplicationSource{
		{RepoURL: "https://git.example.com/org/web.git", Path: "app"},
		{RepoURL: "https://charts.example.com", Chart: "redis", Revision: "1.0.0"},
	}
	for name, tc := range map[string]struct {
		app  *gitops.Application
		spec func(*gitops.ApplicationPreviewSpec)
		want string
	}{
		"single source fork": {app: single, spec: func(s *gitops.ApplicationPreviewSpec) { s.RepoURL = "https://git.example.com/me/web.git" }},
		"two revisions for one source": {app: single, spec: func(s *gitops.ApplicationPreviewSpec) { s.Revision = "main v1" },
			want: "spec.revision: Invalid value: \"main v1\": Application \"web\" has 1 source(s)"},
		"multi: fork names its source": {app: multi, spec: func(s *gitops.ApplicationPreviewSpec) {
			s.Revision, s.RepoURL, s.SourceIndex = "pr-1 1.0.0", "https://git.example.com/me/web.git", ptr.To[int32](0)
		}},
		"multi: fork without sourceIndex": {app: multi, spec: func(s *gitops.ApplicationPreviewSpec) {
			s.Revision, s.RepoURL = "pr-1 1.0.0", "https://git.example.com/me/web.git"
		}, want: "spec.sourceIndex: Required value"},
		"multi: sourceIndex past the end": {app: multi, spec: func(s *gitops.ApplicationPreviewSpec) {
			s.Revision, s.RepoURL, s.SourceIndex = "pr-1 1.0.0", "https://git.example.com/me/web.git", ptr.To[int32](2)
		}, want: "spec.sourceIndex: Invalid value: 2"},
		"multi: a chart is no Git repository": {app: multi, spec: func(s *gitops.ApplicationPreviewSpec) {
			s.Revision, s.RepoURL, s.SourceIndex = "pr-1 1.0.0", "https://git.example.com/me/web.git", ptr.To[int32](1)
		}, want: "spec.repoURL: Invalid value"},
		"multi: one revision": {app: multi, want: "spec.revision: Invalid value"},
	} {
		t.Run(name, func(t *testing.T) {
			got := ValidatePreviewAgainst(preview(tc.spec), tc.app).ToAggregate()
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("refused: %v", got)
			case tc.want != "" && (got == nil || !strings.Contains(got.Error(), tc.want)):
				t.Errorf("got %v, want an error containing %q", got, tc.want)
			}
		})
	}
}
