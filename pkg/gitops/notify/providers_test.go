package notify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestEachProviderGetsItsDocumentedShape: the URL, headers and body of each provider type, as
// the services document their APIs.
func TestEachProviderGetsItsDocumentedShape(t *testing.T) {
	d := Data{Trigger: "SyncFailed", Application: AppRef{Namespace: "team", Name: "web"}, Revision: revA, ShortRevision: revA[:12],
		RepoURL: "https://github.com/acme/deploy.git", Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	for _, tc := range []struct {
		target     Target
		url, auth  string
		bodyHas    []string
		authHeader string
	}{
		{Target{Type: "generic", Address: "https://hooks.example.com/ferry", Token: "tok"}, "https://hooks.example.com/ferry", "Bearer tok",
			[]string{`"trigger":"SyncFailed"`, `"application":{"namespace":"team","name":"web"}`, `"text":"msg"`}, "Authorization"},
		{Target{Type: "slack", Address: "https://hooks.slack.com/services/T/B/X", Channel: "#ops"}, "https://hooks.slack.com/services/T/B/X", "",
			[]string{`{"text":"msg","channel":"#ops"}`}, "Authorization"},
		{Target{Type: "msteams", Address: "https://example.webhook.office.com/x"}, "https://example.webhook.office.com/x", "",
			[]string{`"@type":"MessageCard"`, `"text":"msg"`}, "Authorization"},
		{Target{Type: "github", Address: "https://api.github.com/", Token: "ghp"}, "https://api.github.com/repos/acme/deploy/statuses/" + revA, "Bearer ghp",
			[]string{`"state":"failure"`, `"context":"ferry/team/web"`, `"description":"msg"`}, "Authorization"},
		{Target{Type: "gitlab", Address: "https://gitlab.com", Token: "glp"}, "https://gitlab.com/api/v4/projects/acme%2Fdeploy/statuses/" + revA, "glp",
			[]string{`"state":"failed"`, `"name":"ferry/team/web"`}, "PRIVATE-TOKEN"},
		{Target{Type: "gitea", Address: "https://gitea.example.com", Token: "gt"}, "https://gitea.example.com/api/v1/repos/acme/deploy/statuses/" + revA, "token gt",
			[]string{`"state":"failure"`, `"context":"ferry/team/web"`}, "Authorization"},
		{Target{Type: "alertmanager", Address: "http://am.example.com:9093/"}, "http://am.example.com:9093/api/v2/alerts", "",
			[]string{`[{"annotations":{"revision":"` + revA + `","summary":"msg"}`, `"alertname":"FerrySyncFailed"`, `"severity":"warning"`, `"startsAt":"2026-12-07T10:00:00Z"`}, "Authorization"},
	} {
		r, err := Build(tc.target, d, "msg")
		if err != nil {
			t.Errorf("%s: %v", tc.target.Type, err)
			continue
		}
		if r.URL != tc.url || r.Header.Get(tc.authHeader) != tc.auth || !json.Valid(r.Body) {
			t.Errorf("%s: POST %s %s=%q, want %s %q", tc.target.Type, r.URL, tc.authHeader, r.Header.Get(tc.authHeader), tc.url, tc.auth)
		}
		for _, want := range tc.bodyHas {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("%s: body %s lacks %s", tc.target.Type, r.Body, want)
			}
		}
	}
	// Commit statuses: pending while running, success once synced, nothing for the rest.
	for trigger, want := range map[string]string{"SyncRunning": `"state":"pending"`, "SyncSucceeded": `"state":"success"`, "Deployed": `"state":"success"`} {
		d.Trigger = trigger
		if r, err := Build(Target{Type: "github", Address: "https://api.github.com"}, d, "m"); err != nil || !strings.Contains(string(r.Body), want) {
			t.Errorf("github %s: %s %v", trigger, r.Body, err)
		}
	}
	d.Trigger = "HealthDegraded"
	if _, err := Build(Target{Type: "github", Address: "https://api.github.com"}, d, "m"); !errors.Is(err, ErrNotReported) {
		t.Errorf("github HealthDegraded: %v", err)
	}
}

// TestRepositoryPaths: owner and name from each form of repoURL.
func TestRepositoryPaths(t *testing.T) {
	for in, want := range map[string]string{
		"https://github.com/acme/deploy.git":           "acme deploy",
		"https://gitlab.com/group/sub/deploy":          "group/sub deploy",
		"git@github.com:acme/deploy.git":               "acme deploy",
		"ssh://git@gitea.example.com:2222/acme/deploy": "acme deploy",
	} {
		o, r, err := RepoPath(in)
		if err != nil || o+" "+r != want {
			t.Errorf("%s: %q %q %v, want %s", in, o, r, err, want)
		}
	}
	if _, _, err := RepoPath("https://example.com/deploy.git"); err == nil {
		t.Error("a repository without an owner was accepted")
	}
}
