package validation

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzValidateApplication feeds every free-text field of an Application's source from the
// fuzzer and checks what validation promises whatever a user writes: no panic; whatever passes
// is a repository URL without credentials or whitespace, a path that stays inside the
// repository, and a revision Git would accept; and no error message repeats a password given in
// the URL. `go test` runs the seeds; `make fuzz` explores from them.
func FuzzValidateApplication(f *testing.F) {
	seeds := [][4]string{
		{"https://git.example.com/org/repo.git", "main", "apps/web", "deployer"},
		{"git@github.com:org/repo.git", "v1.2.3", "", ""},
		{"ssh://git@git.example.com:2222/org/repo.git", strings.Repeat("ab", 20), "./apps/..x", "default"},
		{"https://user:s3cret-pass@git.example.com/repo.git", "HEAD", "a", "x"},
		{"https://TOKEN@git.example.com/repo.git", "refs/../main", "../../etc", "-x"},
		{"file:///srv/git/repo.git", "@{-1}", "/abs", "UPPER"},
		{"HTTPS://Git.Example.com/repo", "a..b", "a/../b", ""},
		{"http://[::1]:namedport/x", "feature/x.lock", "a\\b", ""},
		{"git@host:/path with space", "abc1234", "a\x00b", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, repoURL, revision, path, serviceAccount string) {
		app := validApp()
		app.Spec.Source.RepoURL, app.Spec.Source.Revision, app.Spec.Source.Path = repoURL, revision, path
		app.Spec.ServiceAccountName = serviceAccount
		errs := ValidateApplication(app, Options{})

		if u, err := url.Parse(repoURL); err == nil && u.User != nil {
			if pw, ok := u.User.Password(); ok && len(pw) >= 4 && strings.Contains(errs.ToAggregate().Error(), pw) {
				t.Fatalf("an error repeats the URL's password: %v", errs)
			}
		}
		if len(errs) > 0 {
			return
		}
		if strings.ContainsAny(repoURL, " \t\r\n") {
			t.Fatalf("accepted a repoURL with whitespace: %q", repoURL)
		}
		if u, err := url.Parse(repoURL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.User != nil {
			t.Fatalf("accepted credentials in an http(s) repoURL: %q", repoURL)
		}
		if strings.HasPrefix(repoURL, "file:") {
			t.Fatalf("accepted a file URL with file repositories disabled: %q", repoURL)
		}
		if strings.HasPrefix(path, "/") || strings.ContainsRune(path, 0) {
			t.Fatalf("accepted a path that is absolute or holds a NUL: %q", path)
		}
		for _, elem := range strings.Split(path, "/") {
			if elem == ".." {
				t.Fatalf("accepted a path leaving the repository: %q", path)
			}
		}
		if revision != "" && revision != "HEAD" && !commitSHA.MatchString(revision) && refNameProblem(revision) != "" {
			t.Fatalf("accepted a revision Git refuses: %q", revision)
		}
	})
}
