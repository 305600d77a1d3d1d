package charts_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/charts"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts/charttest"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/counting"
)

func policy(t *testing.T, allow ...string) *egress.Policy {
	t.Helper()
	p, err := egress.Default(allow...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkRefused checks that err is the egress policy's refusal and quotes none of leaks.
func checkRefused(t *testing.T, what string, err error, leaks ...string) {
	t.Helper()
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "fetch refused by egress policy (--egress-deny-cidrs)") {
		t.Errorf("%s: %v, want the egress policy's refusal", what, err)
	}
	for _, leak := range leaks {
		if err != nil && strings.Contains(err.Error(), leak) {
			t.Errorf("%s: the error quotes %q: %v", what, leak, err)
		}
	}
}

// TestChartRepositoriesOnADeniedAddressGetNoRequest: with loopback denied (the default), a
// Helm repository and an OCI registry on 127.0.0.1 get no request at all, and the error is the
// policy's. Allowed, the same repository serves the chart.
func TestChartRepositoriesOnADeniedAddressGetNoRequest(t *testing.T) {
	ctx := context.Background()
	repo := charttest.NewRepo(t, "", "")
	repo.Publish(t, podinfo)
	reg := charttest.NewRegistry(t, "", "")
	reg.Push(t, podinfo)
	pushed := reg.Requests()

	c := charts.New(charts.Options{Egress: policy(t)})
	_, err := c.Resolve(ctx, charts.Ref{RepoURL: repo.URL, Chart: "podinfo"}, "", nil)
	checkRefused(t, "a Helm repository", err, "index.yaml")
	_, err = c.Fetch(ctx, charts.Ref{RepoURL: repo.URL, Chart: "podinfo"}, "0.1.0", nil)
	checkRefused(t, "a chart archive", err, "index.yaml", ".tgz")
	ca := map[string][]byte{charts.KeyCA: reg.CA}
	creds, err := charts.CredentialsFromSecretData(ca, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Resolve(ctx, charts.Ref{RepoURL: reg.URL, Chart: "podinfo"}, "", creds)
	checkRefused(t, "an OCI registry", err, "/v2/")
	_, err = c.Fetch(ctx, charts.Ref{RepoURL: reg.URL, Chart: "podinfo"}, "0.1.0", creds)
	checkRefused(t, "an OCI pull", err, "/v2/")
	if n := repo.Requests(); n != 0 {
		t.Errorf("the denied Helm repository got %d requests, want 0", n)
	}
	if n := reg.Requests() - pushed; n != 0 {
		t.Errorf("the denied OCI registry got %d requests, want 0", n)
	}

	allowing := charts.New(charts.Options{Egress: policy(t, "127.0.0.1/32")})
	if v, err := allowing.Resolve(ctx, charts.Ref{RepoURL: repo.URL, Chart: "podinfo"}, "", nil); err != nil || v != "0.1.0" {
		t.Errorf("with 127.0.0.1/32 allowed: %q, %v", v, err)
	}
}

// TestAnIndexCannotMakeFerryGETAnyURL: an index (on an allowed host) whose urls: entry names an
// internal service gets the service no request when the policy denies it, and when the policy
// allows it the error names neither the URL nor the exact status nor anything the service said.
func TestAnIndexCannotMakeFerryGETAnyURL(t *testing.T) {
	ctx := context.Background()
	internal := counting.NewServer(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such user: admin-token-4242", http.StatusNotFound)
	})
	target := internal.URL + "/admin/delete?id=1"
	index := counting.NewServer(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "apiVersion: v1\nentries:\n  evil:\n  - name: evil\n    version: 1.0.0\n    urls: [%q]\n", target)
	})
	ref := charts.Ref{RepoURL: index.URL, Chart: "evil"}

	denying := charts.New(charts.Options{Egress: policy(t, "127.0.0.1/32")})
	_, err := denying.Fetch(ctx, ref, "1.0.0", nil)
	checkRefused(t, "an archive URL on a denied address", err, "admin", "127.0.0.2", "id=1")
	if n := internal.Requests(); n != 0 {
		t.Errorf("the internal service got %d requests, want 0", n)
	}

	allowing := charts.New(charts.Options{Egress: policy(t, "127.0.0.0/8")})
	_, err = allowing.Fetch(ctx, ref, "1.0.0", nil)
	if err == nil || !strings.Contains(err.Error(), "fetch of the chart archive failed (HTTP 4xx)") {
		t.Errorf("an archive URL answering 404: %v, want a failure with the status class", err)
	}
	for _, leak := range []string{"admin", "127.0.0.2", "404", "admin-token-4242", "Not Found"} {
		if err != nil && strings.Contains(err.Error(), leak) {
			t.Errorf("the error quotes %q: %v", leak, err)
		}
	}
}

// TestAnIndexFailureSaysWhatFailedWithoutTheBody: the repository's own index answering 404 is
// told with its status, never with the body.
func TestAnIndexFailureSaysWhatFailedWithoutTheBody(t *testing.T) {
	index := counting.NewServer(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "internal-detail-7731", http.StatusNotFound)
	})
	c := charts.New(charts.Options{Egress: policy(t, "127.0.0.1/32")})
	_, err := c.Resolve(context.Background(), charts.Ref{RepoURL: index.URL, Chart: "x"}, "", nil)
	if !errors.Is(err, charts.ErrNotFound) || !strings.Contains(err.Error(), "fetch of the chart repository index failed (HTTP 404)") || strings.Contains(err.Error(), "internal-detail-7731") {
		t.Errorf("an index answering 404: %v", err)
	}
}

// chartWithDependencies is a chart in Git at dir "app" with a dependency per repository URL.
func chartWithDependencies(repos ...string) []source.File {
	var b strings.Builder
	b.WriteString("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n")
	for i, r := range repos {
		fmt.Fprintf(&b, "- name: dep%d\n  version: \"*\"\n  repository: %s\n", i, r)
	}
	return []source.File{{Path: "app/Chart.yaml", Data: []byte(b.String())}}
}

// TestAChartsDependenciesAreBounded: a chart in Git may not have more than MaxDependencies
// downloaded for it (and none is asked for then), a dependency's index over
// MaxDependencyIndexBytes is refused, a dependency on a denied address gets no request, a
// dependency's index is not kept once its version is chosen, and cancelling the caller stops a
// download that hangs.
func TestAChartsDependenciesAreBounded(t *testing.T) {
	ctx := context.Background()
	repo := charttest.NewRepo(t, "", "")
	for i := 0; i < 17; i++ {
		repo.Publish(t, charttest.WithVersion(map[string]string{"Chart.yaml": fmt.Sprintf("apiVersion: v2\nname: dep%d\nversion: 0.1.0\n", i)}, "0.1.0"))
	}
	seventeen := make([]string, 17)
	for i := range seventeen {
		seventeen[i] = repo.URL
	}
	c := charts.New(charts.Options{Egress: policy(t, "127.0.0.1/32"), ListingMaxAge: time.Hour})
	_, _, err := c.Dependencies(ctx, chartWithDependencies(seventeen...), "app", "", nil)
	if !errors.Is(err, source.ErrLimitExceeded) || !strings.Contains(err.Error(), "17 dependencies") {
		t.Errorf("17 dependencies: %v, want the limit of 16", err)
	}
	if n := repo.Requests(); n != 0 {
		t.Errorf("over the limit, the repository got %d requests, want 0", n)
	}

	// Within the limit, each render asks for the index again: none is kept.
	for i := 0; i < 2; i++ {
		deps, _, err := c.Dependencies(ctx, chartWithDependencies(repo.URL), "app", "", nil)
		if err != nil || len(deps) == 0 {
			t.Fatalf("one dependency: %d files, %v", len(deps), err)
		}
	}
	if n := repo.IndexDownloads(); n != 2 {
		t.Errorf("two renders downloaded the dependency's index %d times, want 2 (not kept)", n)
	}

	small := charts.New(charts.Options{Egress: policy(t, "127.0.0.1/32"), MaxDependencyIndexBytes: 64})
	if _, _, err := small.Dependencies(ctx, chartWithDependencies(repo.URL), "app", "", nil); !errors.Is(err, source.ErrLimitExceeded) {
		t.Errorf("an index over MaxDependencyIndexBytes: %v, want ErrLimitExceeded", err)
	}

	denied := counting.NewServer(t, "127.0.0.2:0", func(w http.ResponseWriter, r *http.Request) {})
	_, _, err = c.Dependencies(ctx, chartWithDependencies(denied.URL), "app", "", nil)
	checkRefused(t, "a dependency on 127.0.0.2", err, "index.yaml")
	if n := denied.Requests(); n != 0 {
		t.Errorf("the denied dependency repository got %d requests, want 0", n)
	}

	// A repository that never answers: cancelling the caller ends the download.
	started := make(chan struct{}, 1)
	hanging := counting.NewServer(t, "127.0.0.1:0", func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-r.Context().Done()
	})
	slow := charts.New(charts.Options{Egress: policy(t, "127.0.0.1/32"), Timeout: time.Hour})
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		<-started
		cancel()
	}()
	if _, _, err := slow.Dependencies(cctx, chartWithDependencies(hanging.URL), "app", "", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("a hanging dependency after the caller cancelled: %v, want context.Canceled", err)
	}
}
