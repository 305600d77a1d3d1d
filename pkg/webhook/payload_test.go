package webhook

import (
	"reflect"
	"slices"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// The payloads below keep, of each host's documented push example, the fields Ferry reads and a
// few it does not, in the documented shape.
const (
	githubPush = `{"ref":"refs/heads/main","before":"6113728f27ae82c7b1a177c8d03f9e96e0adf246","after":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
"repository":{"id":186853002,"name":"mono","full_name":"org/mono","html_url":"https://github.com/org/mono",
"clone_url":"https://github.com/org/mono.git","ssh_url":"git@github.com:org/mono.git","git_url":"git://github.com/org/mono.git"},
"pusher":{"name":"octocat"},"commits":[{"id":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","message":"Update web",
"added":["apps/web/new.yaml"],"removed":[],"modified":["apps/web/deploy.yaml","base/common.yaml"]},
{"id":"1d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c","added":[],"removed":["apps/old/x.yaml"],"modified":["apps/web/deploy.yaml"]}],
"head_commit":{"id":"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}}`

	gitlabPush = `{"object_kind":"push","event_name":"push","before":"95790bf891e76fee5e1747ab589903a6a1f80f22","after":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
"ref":"refs/heads/main","checkout_sha":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","user_name":"John Smith",
"project":{"id":15,"name":"Diaspora","web_url":"http://example.com/mike/diaspora","git_ssh_url":"git@example.com:mike/diaspora.git",
"git_http_url":"http://example.com/mike/diaspora.git","path_with_namespace":"mike/diaspora"},
"repository":{"name":"Diaspora","url":"git@example.com:mike/diaspora.git","homepage":"http://example.com/mike/diaspora",
"git_http_url":"http://example.com/mike/diaspora.git","git_ssh_url":"git@example.com:mike/diaspora.git"},
"commits":[{"id":"b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327","message":"Update Catalan translation","added":["CHANGELOG"],"modified":["app/controller/application.rb"],"removed":[]},
{"id":"da1560886d4f094c3e6c9ef40349f7d38b5d27d7","message":"fixed readme","added":["CHANGELOG"],"modified":["app/controller/application.rb"],"removed":[]}],
"total_commits_count":4}`

	giteaPush = `{"ref":"refs/heads/develop","before":"28e1879d029cb852e4844d9c718537df08844e03","after":"bffeb74224043ba2feb48d137756c8a9331c449a",
"compare_url":"http://localhost:3000/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
"commits":[{"id":"bffeb74224043ba2feb48d137756c8a9331c449a","message":"Webhooks Yay!","added":["apps/api/x.yaml"],"removed":null,"modified":null}],
"total_commits":1,
"repository":{"id":140,"name":"webhooks","full_name":"gitea/webhooks","html_url":"http://localhost:3000/gitea/webhooks",
"ssh_url":"ssh://gitea@localhost:2222/gitea/webhooks.git","clone_url":"http://localhost:3000/gitea/webhooks.git"},
"pusher":{"login":"gitea"}}`

	bitbucketPush = `{"eventKey":"repo:refs_changed","date":"2017-09-19T09:45:32+1000","actor":{"name":"admin"},
"repository":{"slug":"repository","id":84,"name":"repository","project":{"key":"PROJ"},
"links":{"clone":[{"href":"ssh://git@bitbucket.example.com:7999/proj/repository.git","name":"ssh"},
{"href":"https://bitbucket.example.com/scm/proj/repository.git","name":"http"}],
"self":[{"href":"https://bitbucket.example.com/projects/PROJ/repos/repository/browse"}]}},
"changes":[{"ref":{"id":"refs/heads/master","displayId":"master","type":"BRANCH"},"refId":"refs/heads/master",
"fromHash":"ecddabb624f6f5ba43816f5926e580a5f680a932","toHash":"178864a7d521b6f5e720b386b2c2b0ef8563e0dc","type":"UPDATE"}]}`

	genericPush = `{"repository":"https://git.example.com/org/mono.git","ref":"refs/heads/main","after":"abc","paths":["apps/web/a.yaml"]}`
)

func TestParsePushOfEachHost(t *testing.T) {
	for _, tc := range []struct {
		typ  gitopsv1alpha1.ReceiverType
		body string
		want Push
	}{
		{gitopsv1alpha1.ReceiverGitHub, githubPush, Push{
			URLs:  []string{"https://github.com/org/mono.git", "git@github.com:org/mono.git", "git://github.com/org/mono.git", "https://github.com/org/mono"},
			Refs:  []string{"refs/heads/main"},
			After: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
			Paths: []string{"apps/web/new.yaml", "apps/web/deploy.yaml", "base/common.yaml", "apps/old/x.yaml"},
		}},
		// GitLab lists 2 of 4 commits: the files of the other two are unknown, so every path.
		{gitopsv1alpha1.ReceiverGitLab, gitlabPush, Push{
			URLs: []string{"http://example.com/mike/diaspora.git", "git@example.com:mike/diaspora.git", "http://example.com/mike/diaspora",
				"http://example.com/mike/diaspora.git", "git@example.com:mike/diaspora.git", "http://example.com/mike/diaspora"},
			Refs:  []string{"refs/heads/main"},
			After: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
		}},
		{gitopsv1alpha1.ReceiverGitea, giteaPush, Push{
			URLs:  []string{"http://localhost:3000/gitea/webhooks.git", "ssh://gitea@localhost:2222/gitea/webhooks.git", "http://localhost:3000/gitea/webhooks"},
			Refs:  []string{"refs/heads/develop"},
			After: "bffeb74224043ba2feb48d137756c8a9331c449a",
			Paths: []string{"apps/api/x.yaml"},
		}},
		// refs_changed lists no files: every path.
		{gitopsv1alpha1.ReceiverBitbucketServer, bitbucketPush, Push{
			URLs:  []string{"ssh://git@bitbucket.example.com:7999/proj/repository.git", "https://bitbucket.example.com/scm/proj/repository.git"},
			Refs:  []string{"refs/heads/master"},
			After: "178864a7d521b6f5e720b386b2c2b0ef8563e0dc",
		}},
		{gitopsv1alpha1.ReceiverGenericHMAC, genericPush, Push{
			URLs: []string{"https://git.example.com/org/mono.git"}, Refs: []string{"refs/heads/main"}, After: "abc", Paths: []string{"apps/web/a.yaml"},
		}},
	} {
		t.Run(string(tc.typ), func(t *testing.T) {
			got, err := ParsePush(tc.typ, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ParsePush =\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestParsePushRefusesWhatNamesNoRepository(t *testing.T) {
	for _, body := range []string{`{"ref":"refs/heads/main"}`, `not json`, `[]`} {
		if _, err := ParsePush(gitopsv1alpha1.ReceiverGitHub, []byte(body)); err == nil {
			t.Errorf("ParsePush(%s) accepted it", body)
		}
	}
	// A push of no commits (a branch moved to an existing commit): every path.
	p, err := ParsePush(gitopsv1alpha1.ReceiverGitHub, []byte(`{"ref":"refs/heads/main","repository":{"clone_url":"https://github.com/o/r.git"},"commits":[]}`))
	if err != nil || p.Paths != nil {
		t.Errorf("a push of no commits: paths %v (%v), want nil, every path", p.Paths, err)
	}
	if !slices.Equal(p.URLs, []string{"https://github.com/o/r.git"}) {
		t.Errorf("urls %v", p.URLs)
	}
}
