package render

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

func TestParseRemoteBaseReadsEveryFormKustomizeAccepts(t *testing.T) {
	cases := []struct {
		ref  string
		want RemoteBase
	}{
		{"https://git.example.com/org/platform//base/web?ref=v1.2", RemoteBase{"https://git.example.com/org/platform", "base/web", "v1.2"}},
		{"https://git.example.com/org/platform.git/base?version=main", RemoteBase{"https://git.example.com/org/platform.git", "base", "main"}},
		{"HTTPS://Git.Example.com/org/platform//base", RemoteBase{"https://Git.Example.com/org/platform", "base", ""}},
		{"https://dev.azure.com/org/project/_git/platform/base?ref=main", RemoteBase{"https://dev.azure.com/org/project/_git/platform", "base", "main"}},
		{"github.com/org/platform/base/web?ref=v2", RemoteBase{"https://github.com/org/platform", "base/web", "v2"}},
		{"GitHub.com/org/platform", RemoteBase{"https://github.com/org/platform", "", ""}},
		{"gh:org/platform//base", RemoteBase{"https://github.com/org/platform", "base", ""}},
		{"git::https://git.example.com/org/platform.git//base", RemoteBase{"https://git.example.com/org/platform.git", "base", ""}},
		{"git@github.com:org/platform.git//base?ref=main", RemoteBase{"git@github.com:org/platform.git", "base", "main"}},
		{"ssh://git@git.example.com:2222/org/platform.git/base", RemoteBase{"ssh://git@git.example.com:2222/org/platform.git", "base", ""}},
	}
	for _, tc := range cases {
		got, err := parseRemoteBase(tc.ref)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v", tc.ref, got, err, tc.want)
		}
	}
	for _, bad := range []string{"https://git.example.com/org/platform//../../etc", "file:///srv/git/platform", "https://git.example.com/", "gitlab.com/org/repo"} {
		if got, err := parseRemoteBase(bad); err == nil {
			t.Errorf("%s: parsed as %+v, want a refusal", bad, got)
		}
	}
}

// remoteFromCache reads remote bases as Ferry's engine does: resolved and read through a Git
// cache, anonymously.
func remoteFromCache(t *testing.T, cache *source.Cache) RemoteReader {
	return func(repoURL, revision string) (TreeReader, error) {
		sha, err := cache.Resolve(context.Background(), repoURL, revision, nil)
		if err != nil {
			return nil, err
		}
		return func(dir string) ([]source.File, error) {
			return cache.ReadFiles(repoURL, sha, dir, source.Limits{})
		}, nil
	}
}

// TestRemoteBasesAreReadThroughFerrysGitCache: a platform team's base in its own repository, at
// a tag, with a base of its own beside it; the Application's overlay patches it. The render
// reads it through the Git cache and kustomize fetches nothing (no process, no request).
func TestRemoteBasesAreReadThroughFerrysGitCache(t *testing.T) {
	srv := gittest.NewServer(t)
	platform := srv.NewRepo("platform")
	platform.Commit("main", map[string]string{
		"base/web/kustomization.yaml": "resources: [deployment.yaml, ../../common]\nlabels:\n- pairs: {team: platform}\n",
		"base/web/deployment.yaml":    deploymentWithAnchors,
		"common/kustomization.yaml":   "resources: [config.yaml]\n",
		"common/config.yaml":          configMap("shared"),
	}, "platform v1")
	platform.Tag("main", "v1", "release v1")
	platform.Commit("main", map[string]string{"base/web/deployment.yaml": strings.ReplaceAll(deploymentWithAnchors, "replicas: 2", "replicas: 9")}, "unreleased")

	cache, err := source.NewCache(source.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	app := files("app/kustomization.yaml", "namePrefix: shop-\nresources:\n- "+platform.URL()+"//base/web?ref=v1\npatches:\n- patch: |-\n    apiVersion: apps/v1\n    kind: Deployment\n    metadata: {name: web}\n    spec: {replicas: 4}\n")
	objs, err := Render(app, "app", Options{AllowRemoteBases: true, Remote: remoteFromCache(t, cache)})
	if err != nil {
		t.Fatal(err)
	}
	replicas := map[string]int64{}
	for _, o := range objs {
		n, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
		replicas[o.GetKind()+"/"+o.GetName()] = n
		if o.GetKind() == "Deployment" && o.GetLabels()["team"] != "platform" {
			t.Errorf("%s lacks the remote base's label: %v", o.GetName(), o.GetLabels())
		}
	}
	if _, shared := replicas["ConfigMap/shop-shared"]; len(objs) != 2 || replicas["Deployment/shop-web"] != 4 || !shared {
		t.Fatalf("rendered %v; want shop-web at the overlay's 4 replicas (v1 of the base, patched) and shop-shared from the base's own base", replicas)
	}
	if n := srv.CountRequests("git-upload-pack"); n == 0 {
		t.Fatal("the Git server saw no fetch: the base did not come through the cache")
	}
}

// TestRemoteBasesStayConfined: a remote base cannot reach out of its repository into the
// Application's, a repository cannot fake a mounted base, and without a reader (or the flag)
// remote bases are refused.
func TestRemoteBasesStayConfined(t *testing.T) {
	remote := func(repoURL, revision string) (TreeReader, error) {
		return FilesReader(files(
			"base/kustomization.yaml", "resources: [../../../app/secret.yaml]\n",
		)), nil
	}
	app := files("app/kustomization.yaml", "resources:\n- https://git.example.com/org/platform//base\n", "app/secret.yaml", configMap("s"))
	var rerr *Error
	if _, err := Render(app, "app", Options{AllowRemoteBases: true, Remote: remote}); !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, "outside its remote repository") {
		t.Errorf("a remote base reaching into the Application's repository: %v", err)
	}
	faked := files("app/kustomization.yaml", "resources: [../.ferry-remote/0123456789abcdef/base]\n", ".ferry-remote/0123456789abcdef/base/kustomization.yaml", "resources: []\n")
	if _, err := Render(faked, "app", Options{AllowRemoteBases: true, Remote: remote}); err == nil {
		t.Error("a repository with its own .ferry-remote directory rendered")
	}
	if _, err := Render(app, "app", Options{AllowRemoteBases: true}); err == nil || !strings.Contains(err.Error(), "cannot be fetched") {
		t.Errorf("no reader: %v", err)
	}
	if _, err := Render(app, "app", Options{Remote: remote}); err == nil || !strings.Contains(err.Error(), "disabled on this server") {
		t.Errorf("no flag: %v", err)
	}
}
