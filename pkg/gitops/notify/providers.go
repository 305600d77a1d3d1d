package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Target is a resolved AlertProvider: its type, address and channel, and the token of its Secret.
type Target struct {
	Type    v1alpha1.AlertProviderType
	Address string
	Channel string
	Token   string
}

// ErrNotReported is a trigger a provider does not report (a commit status has no state for
// Created, Deleted, HealthDegraded or Drifted): nothing is sent, and nothing failed.
var ErrNotReported = errors.New("not reported by this provider")

// Request is the HTTP request of one alert: method POST, the URL, JSON body, headers.
type Request struct {
	URL    string
	Body   []byte
	Header http.Header
}

// Build makes the request t takes for an alert with data d and message text, each in the shape
// the service documents:
//
//   - generic: POST address, the data model as JSON with "text" (the message).
//   - slack: POST address, {"text", "channel"} (incoming webhook; chat.postMessage with a token).
//   - msteams: POST address, a MessageCard {"@type": "MessageCard", "summary", "title", "text"}.
//   - github: POST address/repos/{owner}/{repo}/statuses/{sha}, {"state", "context",
//     "description"}; state pending (SyncRunning), success (SyncSucceeded, Deployed), failure
//     (SyncFailed).
//   - gitlab: POST address/api/v4/projects/{url-encoded path}/statuses/{sha}, {"state",
//     "name", "description"}; state running, success, failed.
//   - gitea: POST address/api/v1/repos/{owner}/{repo}/statuses/{sha}, as github.
//   - alertmanager: POST address/api/v2/alerts, [{"labels", "annotations", "startsAt"}].
func Build(t Target, d Data, text string) (Request, error) {
	h := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"ferry-notifications"}}
	if t.Token != "" {
		h.Set("Authorization", "Bearer "+t.Token)
	}
	base := strings.TrimSuffix(t.Address, "/")
	switch t.Type {
	case v1alpha1.AlertProviderGeneric:
		return jsonRequest(t.Address, h, struct {
			Data
			Text string `json:"text"`
		}{d, text})
	case v1alpha1.AlertProviderSlack:
		return jsonRequest(t.Address, h, struct {
			Text    string `json:"text"`
			Channel string `json:"channel,omitempty"`
		}{text, t.Channel})
	case v1alpha1.AlertProviderMSTeams:
		return jsonRequest(t.Address, h, map[string]any{
			"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": text, "title": fmt.Sprintf("%s/%s: %s", d.Application.Namespace, d.Application.Name, d.Trigger),
			"text": text, "themeColor": themeColor(d.Trigger),
		})
	case v1alpha1.AlertProviderGitHub, v1alpha1.AlertProviderGitea:
		state, ok := commitState(d.Trigger, t.Type)
		if !ok {
			return Request{}, ErrNotReported
		}
		sha, owner, repo, err := commitOf(d)
		if err != nil {
			return Request{}, err
		}
		prefix, accept := "", "application/vnd.github+json"
		if t.Type == v1alpha1.AlertProviderGitea {
			prefix, accept = "/api/v1", "application/json"
			if t.Token != "" {
				h.Set("Authorization", "token "+t.Token)
			}
		}
		h.Set("Accept", accept)
		return jsonRequest(fmt.Sprintf("%s%s/repos/%s/%s/statuses/%s", base, prefix, url.PathEscape(owner), url.PathEscape(repo), sha), h, map[string]string{
			"state": state, "context": statusContext(d), "description": truncate(text, 140),
		})
	case v1alpha1.AlertProviderGitLab:
		state, ok := commitState(d.Trigger, t.Type)
		if !ok {
			return Request{}, ErrNotReported
		}
		sha, owner, repo, err := commitOf(d)
		if err != nil {
			return Request{}, err
		}
		if t.Token != "" {
			h.Del("Authorization")
			h.Set("PRIVATE-TOKEN", t.Token)
		}
		return jsonRequest(fmt.Sprintf("%s/api/v4/projects/%s/statuses/%s", base, url.PathEscape(owner+"/"+repo), sha), h, map[string]string{
			"state": state, "name": statusContext(d), "description": truncate(text, 255),
		})
	case v1alpha1.AlertProviderAlertmanager:
		severity := "info"
		if problem(d.Trigger) {
			severity = "warning"
		}
		return jsonRequest(base+"/api/v2/alerts", h, []map[string]any{{
			"labels": map[string]string{
				"alertname": "Ferry" + d.Trigger, "namespace": d.Application.Namespace, "application": d.Application.Name,
				"trigger": d.Trigger, "severity": severity,
			},
			"annotations": map[string]string{"summary": text, "revision": d.Revision},
			"startsAt":    d.Time.Format(time.RFC3339),
		}})
	}
	return Request{}, fmt.Errorf("unknown provider type %q", t.Type)
}

func jsonRequest(u string, h http.Header, body any) (Request, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return Request{}, fmt.Errorf("encoding the alert: %w", err)
	}
	return Request{URL: u, Body: b, Header: h}, nil
}

// problem is whether a trigger reports something wrong.
func problem(trigger string) bool {
	switch v1alpha1.AlertTrigger(trigger) {
	case v1alpha1.AlertTriggerSyncFailed, v1alpha1.AlertTriggerHealthDegraded, v1alpha1.AlertTriggerDrifted:
		return true
	}
	return false
}

func themeColor(trigger string) string {
	if problem(trigger) {
		return "d9534f"
	}
	return "2eb886"
}

// commitState is the commit status a trigger sets, in the provider's words.
func commitState(trigger string, typ v1alpha1.AlertProviderType) (string, bool) {
	switch v1alpha1.AlertTrigger(trigger) {
	case v1alpha1.AlertTriggerSyncRunning:
		if typ == v1alpha1.AlertProviderGitLab {
			return "running", true
		}
		return "pending", true
	case v1alpha1.AlertTriggerSyncSucceeded, v1alpha1.AlertTriggerDeployed:
		return "success", true
	case v1alpha1.AlertTriggerSyncFailed:
		if typ == v1alpha1.AlertProviderGitLab {
			return "failed", true
		}
		return "failure", true
	}
	return "", false
}

// statusContext names Ferry's commit status of one Application, so that several Applications of
// one repository each have their own.
func statusContext(d Data) string {
	return "ferry/" + d.Application.Namespace + "/" + d.Application.Name
}

// commitOf is the commit a status is set on and the repository's owner (or group path) and
// name, from the revision and the Application's repoURL.
func commitOf(d Data) (sha, owner, repo string, err error) {
	sha = strings.ToLower(d.Revision)
	if len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		return "", "", "", fmt.Errorf("revision %q is not one commit: a commit status needs one", truncate(d.Revision, 80))
	}
	owner, repo, err = RepoPath(d.RepoURL)
	return sha, owner, repo, err
}

// RepoPath is the owner (a GitLab group path may have several parts) and name of a repository
// from its URL: https://host/owner/repo(.git), ssh://git@host/owner/repo, git@host:owner/repo.git.
func RepoPath(repoURL string) (owner, repo string, err error) {
	p := repoURL
	if u, perr := url.Parse(repoURL); perr == nil && u.Scheme != "" && u.Host != "" {
		p = u.Path
	} else if i := strings.Index(repoURL, ":"); i > 0 && !strings.Contains(repoURL[:i], "/") {
		p = repoURL[i+1:] // scp-like git@host:owner/repo
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	i := strings.LastIndex(p, "/")
	if i <= 0 || i == len(p)-1 {
		return "", "", fmt.Errorf("cannot tell the owner and name of repository %q", truncate(repoURL, 200))
	}
	return p[:i], p[i+1:], nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
