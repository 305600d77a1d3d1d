package apiserver

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

var stack *localstack.Stack

// The read subresources render with the target cluster's REST mapper, so these tests run
// against a real kube-apiserver (without Ferry).
func TestMain(m *testing.M) {
	worker.RunIfAsked() // the in-process server's render workers are this binary
	os.Exit(localstack.Main(m, localstack.Options{}, &stack))
}

func TestSlowGitAnswersTimeoutAndKeepsFetching(t *testing.T) {
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("slow")
	first := repo.Commit("main", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\ndata:\n  value: one\n"}, "first")

	cache, err := source.NewCache(source.Options{Dir: t.TempDir(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	c := completedConfig{ExtraConfig: &ExtraConfig{
		ReadTimeout: 300 * time.Millisecond,
		engine:      engine.New(engine.Config{Source: cache, Applier: apply.NewApplier(stack.RestConfig("admin"))}),
	}}
	renderer := c.manifestsRenderer()
	// Like a request's, each call's context ends when the call returns.
	render := func(ctx context.Context, app *gitops.Application, revision string) (string, []*unstructured.Unstructured, error) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		return renderer(ctx, app, revision)
	}
	app := &gitops.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "slow", ResourceVersion: "1"},
		Spec: gitops.ApplicationSpec{
			Source:      gitops.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: "app"},
			Destination: gitops.ApplicationDestination{Namespace: "default"},
		},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Every Git request now takes 2s: a fetch is several of them, far beyond the read timeout.
	srv.SetDelay(2 * time.Second)
	_, _, err = render(ctx, app, first)
	if !apierrors.IsTimeout(err) {
		t.Fatalf("a read from a slow Git server returned %v, want a 504 Timeout", err)
	}
	msg := err.Error()
	for _, want := range []string{repo.URL(), "retry"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the timeout error %q does not mention %q", msg, want)
		}
	}
	if s, ok := err.(apierrors.APIStatus); !ok || s.Status().Details == nil || s.Status().Details.RetryAfterSeconds == 0 {
		t.Errorf("the timeout error carries no Retry-After: %#v", err)
	}

	// The fetch went on without the request: retries of that commit succeed, still slow Git,
	// once it has landed in the cache.
	var retries int
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		retries++
		sha, objs, err := render(ctx, app, first)
		if apierrors.IsTimeout(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if sha != first || len(objs) != 1 || objs[0].GetName() != "slow" {
			t.Errorf("after the background fetch: revision %s, %d objects", sha, len(objs))
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the commit never became readable while Git stayed slow (%d retries): %v", retries, err)
	}
	fetches := srv.CountRequests("POST /slow.git/git-upload-pack")
	if fetches != 1 {
		t.Errorf("%d retries made %d fetches; want the one fetch, shared", retries, fetches)
	}

	// A branch must be resolved on the server each time: still a timeout while Git is slow,
	// then an answer when it is fast again.
	if _, _, err := render(ctx, app, ""); !apierrors.IsTimeout(err) {
		t.Errorf("reading branch main from a slow Git server returned %v, want a 504 Timeout", err)
	}
	srv.SetDelay(0)
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		sha, _, err := render(ctx, app, "")
		return err == nil && sha == first, nil
	})
	if err != nil {
		t.Errorf("branch main never resolved once Git was fast again: %v", err)
	}
}

// TestDiffsPastTheLimitAreShedWith429: with every comparison slot taken, a diff waits at most
// half its budget and is then refused with a 429 that tells the client when to retry; once a
// slot frees, the next diff runs.
func TestDiffsPastTheLimitAreShedWith429(t *testing.T) {
	c := completedConfig{ExtraConfig: &ExtraConfig{ReadTimeout: time.Minute, diffSlots: make(chan struct{}, 2)}}
	var releases []func()
	for i := 0; i < 2; i++ {
		release, err := c.acquireDiffSlot(context.Background())
		if err != nil {
			t.Fatalf("diff %d of 2 with 2 slots: %v", i+1, err)
		}
		releases = append(releases, release)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	began := time.Now()
	_, err := c.acquireDiffSlot(ctx)
	waited := time.Since(began)
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("a third diff with 2 slots taken returned %v, want 429 Too Many Requests", err)
	}
	if s, ok := err.(apierrors.APIStatus); !ok || s.Status().Details == nil || s.Status().Details.RetryAfterSeconds == 0 {
		t.Errorf("the 429 carries no Retry-After: %#v", err)
	}
	if !strings.Contains(err.Error(), "--max-concurrent-diffs") {
		t.Errorf("the 429 %q does not say which flag sets the limit", err)
	}
	if waited >= 2*time.Second {
		t.Errorf("the refused diff waited %s, its whole deadline; it should have been refused at half of it", waited)
	}

	// A slot freed while a diff waits goes to that diff.
	got := make(chan error, 1)
	go func() {
		release, err := c.acquireDiffSlot(context.Background())
		if err == nil {
			release()
		}
		got <- err
	}()
	releases[0]()
	if err := <-got; err != nil {
		t.Errorf("a diff waiting while a slot was freed: %v", err)
	}
	releases[1]()
}
