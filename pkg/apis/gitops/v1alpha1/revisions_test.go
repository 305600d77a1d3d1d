package v1alpha1

import (
	"reflect"
	"testing"
)

func TestRevisionList(t *testing.T) {
	one := &Application{Spec: ApplicationSpec{Source: ApplicationSource{RepoURL: "https://git.example/app.git"}}}
	two := &Application{Spec: ApplicationSpec{Sources: []ApplicationSource{
		{RepoURL: "https://git.example/app.git"},
		{RepoURL: "https://charts.example", Chart: "redis"},
	}}}
	sha := "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name     string
		app      *Application
		revision string
		want     []string
	}{
		{"spec.source has no list", one, sha, nil},
		{"no revision yet", two, "", nil},
		{"one revision per source, in order", two, sha + " 18.1.0", []string{sha, "18.1.0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RevisionList(tc.app, tc.revision); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RevisionList(%q) = %q, want %q", tc.revision, got, tc.want)
			}
		})
	}
}

func TestShortRevision(t *testing.T) {
	sha := "0123456789abcdef0123456789abcdef01234567"
	for revision, want := range map[string]string{
		sha:                         "0123456789ab",
		sha + " 18.1.0":             "0123456789ab 18.1.0",
		"main":                      "main",
		"v1.2.3 " + sha + " " + sha: "v1.2.3 0123456789ab 0123456789ab",
		// 40 characters that are not hex are a branch name, not a SHA.
		"release-candidate-for-the-winter-rollout": "release-candidate-for-the-winter-rollout",
	} {
		if got := ShortRevision(revision); got != want {
			t.Errorf("ShortRevision(%q) = %q, want %q", revision, got, want)
		}
	}
}
