package webhook

import (
	"encoding/json"
	"fmt"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Push is what a push delivery says: which repository (every clone URL the payload gives), which
// refs moved to which commit, and which files changed.
type Push struct {
	// URLs are the repository's clone URLs (https and ssh) and web URL.
	URLs []string
	// Refs are the full names of the refs pushed (refs/heads/main); empty when the payload names
	// none, which matches every revision.
	Refs []string
	// After is the commit the (first) ref now points at, for the refresh's reason.
	After string
	// Paths are the files the pushed commits added, modified or removed; nil when the payload
	// does not list them (Bitbucket Server, a push of no commits, a truncated list), which is
	// read as "every path".
	Paths []string
}

// commit is the file lists of one pushed commit: GitHub, GitLab, Gitea and Forgejo alike.
type commit struct {
	Added    []string `json:"added"`
	Modified []string `json:"modified"`
	Removed  []string `json:"removed"`
}

// changedPaths gathers the files of commits; nil (every path) when there are none, or when the
// host left some out (total is how many commits the push had, when it says).
func changedPaths(commits []commit, total int) []string {
	if len(commits) == 0 || total > len(commits) {
		return nil
	}
	seen := map[string]bool{}
	paths := []string{}
	for _, c := range commits {
		for _, list := range [][]string{c.Added, c.Modified, c.Removed} {
			for _, p := range list {
				if !seen[p] {
					seen[p] = true
					paths = append(paths, p)
				}
			}
		}
	}
	return paths
}

// githubCommitLimit is how many commits GitHub lists in a push payload at most; a push of more
// is read as touching every path.
const githubCommitLimit = 2048

// ParsePush reads a push delivery of a host of type typ.
func ParsePush(typ gitopsv1alpha1.ReceiverType, body []byte) (Push, error) {
	parse, ok := parsers[typ]
	if !ok {
		return Push{}, fmt.Errorf("unknown receiver type %q", typ)
	}
	p, err := parse(body)
	if err != nil {
		return p, err
	}
	if len(p.URLs) == 0 {
		return p, fmt.Errorf("the push payload names no repository")
	}
	return p, nil
}

// parsers read each host's push payload, in the shape its documentation gives.
var parsers = map[gitopsv1alpha1.ReceiverType]func([]byte) (Push, error){
	gitopsv1alpha1.ReceiverGitHub:          parseGitHub,
	gitopsv1alpha1.ReceiverGitLab:          parseGitLab,
	gitopsv1alpha1.ReceiverGitea:           parseGitea,
	gitopsv1alpha1.ReceiverBitbucketServer: parseBitbucketServer,
	gitopsv1alpha1.ReceiverGenericHMAC:     parseGeneric,
}

func parseGitHub(body []byte) (Push, error) {
	var p Push
	// https://docs.github.com/en/webhooks/webhook-events-and-payloads#push
	var ev struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			GitURL   string `json:"git_url"`
			HTMLURL  string `json:"html_url"`
		} `json:"repository"`
		Commits []commit `json:"commits"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return p, fmt.Errorf("reading GitHub's push payload: %w", err)
	}
	r := ev.Repository
	p = Push{URLs: nonEmpty(r.CloneURL, r.SSHURL, r.GitURL, r.HTMLURL), Refs: nonEmpty(ev.Ref), After: ev.After}
	total := 0
	if len(ev.Commits) >= githubCommitLimit {
		total = len(ev.Commits) + 1
	}
	p.Paths = changedPaths(ev.Commits, total)
	return p, nil
}

func parseGitLab(body []byte) (Push, error) {
	var p Push
	// https://docs.gitlab.com/user/project/integrations/webhook_events/#push-events
	var ev struct {
		Ref     string `json:"ref"`
		After   string `json:"after"`
		Project struct {
			GitHTTPURL string `json:"git_http_url"`
			GitSSHURL  string `json:"git_ssh_url"`
			WebURL     string `json:"web_url"`
		} `json:"project"`
		Repository struct {
			GitHTTPURL string `json:"git_http_url"`
			GitSSHURL  string `json:"git_ssh_url"`
			Homepage   string `json:"homepage"`
		} `json:"repository"`
		Commits           []commit `json:"commits"`
		TotalCommitsCount int      `json:"total_commits_count"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return p, fmt.Errorf("reading GitLab's push payload: %w", err)
	}
	pr, r := ev.Project, ev.Repository
	p = Push{URLs: nonEmpty(pr.GitHTTPURL, pr.GitSSHURL, pr.WebURL, r.GitHTTPURL, r.GitSSHURL, r.Homepage), Refs: nonEmpty(ev.Ref), After: ev.After}
	p.Paths = changedPaths(ev.Commits, ev.TotalCommitsCount)
	return p, nil
}

func parseGitea(body []byte) (Push, error) {
	var p Push
	// https://docs.gitea.com/usage/webhooks (Forgejo's is the same)
	var ev struct {
		Ref        string `json:"ref"`
		After      string `json:"after"`
		Repository struct {
			CloneURL string `json:"clone_url"`
			SSHURL   string `json:"ssh_url"`
			HTMLURL  string `json:"html_url"`
		} `json:"repository"`
		Commits      []commit `json:"commits"`
		TotalCommits int      `json:"total_commits"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return p, fmt.Errorf("reading Gitea's push payload: %w", err)
	}
	r := ev.Repository
	p = Push{URLs: nonEmpty(r.CloneURL, r.SSHURL, r.HTMLURL), Refs: nonEmpty(ev.Ref), After: ev.After}
	p.Paths = changedPaths(ev.Commits, ev.TotalCommits)
	return p, nil
}

func parseBitbucketServer(body []byte) (Push, error) {
	var p Push
	// https://confluence.atlassian.com/bitbucketserver/event-payload-938025882.html#Eventpayload-Push
	// repo:refs_changed lists no files: every path.
	var ev struct {
		Repository struct {
			Links struct {
				Clone []struct {
					Href string `json:"href"`
				} `json:"clone"`
				Self []struct {
					Href string `json:"href"`
				} `json:"self"`
			} `json:"links"`
		} `json:"repository"`
		Changes []struct {
			RefID  string `json:"refId"`
			ToHash string `json:"toHash"`
		} `json:"changes"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return p, fmt.Errorf("reading Bitbucket Server's push payload: %w", err)
	}
	for _, c := range ev.Repository.Links.Clone {
		p.URLs = append(p.URLs, nonEmpty(c.Href)...)
	}
	for _, c := range ev.Changes {
		p.Refs = append(p.Refs, nonEmpty(c.RefID)...)
		if p.After == "" {
			p.After = c.ToHash
		}
	}
	return p, nil
}

func parseGeneric(body []byte) (Push, error) {
	var p Push
	var ev struct {
		Repository string    `json:"repository"`
		Ref        string    `json:"ref"`
		After      string    `json:"after"`
		Paths      *[]string `json:"paths"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return p, fmt.Errorf("reading the push payload: %w", err)
	}
	p = Push{URLs: nonEmpty(ev.Repository), Refs: nonEmpty(ev.Ref), After: ev.After}
	if ev.Paths != nil {
		p.Paths = append([]string{}, *ev.Paths...)
	}
	return p, nil
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
