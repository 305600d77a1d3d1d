package application

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/install"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

var stack *localstack.Stack

// The read subresources render with the target cluster's REST mapper, so the tests of the reads
// run against a real kube-apiserver (without Ferry); with -short they skip.
func TestMain(m *testing.M) {
	os.Exit(localstack.Main(m, localstack.Options{}, &stack))
}

// newScheme is the converter of the reads under test: the API group's types, as the server's.
func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return scheme
}

// TestASlowReadStopsItsGitWorkWithTheRequest: a read from a slow Git server answers 504 with a
// Retry-After within its budget, and its Git requests stop with it (the server sees the client
// give up) instead of running on detached from any request; once Git is fast again, the read
// succeeds.
func TestASlowReadStopsItsGitWorkWithTheRequest(t *testing.T) {
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("slow")
	first := repo.Commit("main", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: slow\ndata:\n  value: one\n"}, "first")

	// --git-timeout is far longer than the test waits: only the request's end stops the work.
	cache, err := source.NewCache(source.Options{Dir: t.TempDir(), Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	reader := NewEngineReader(engine.New(engine.Config{Source: cache, Applier: apply.NewApplier(stack.RestConfig("admin"))}),
		newScheme(), ReadOptions{Timeout: 300 * time.Millisecond})
	renderer := reader.Manifests
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

	// Every Git request now takes an hour: far beyond the read's budget.
	srv.SetDelay(time.Hour)
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
	// The request ended: so did its Git request, which the server sees abandoned.
	eventually.Until(t, time.Minute, 10*time.Millisecond, "the read's Git request stopped with it", func() (bool, string) {
		return srv.Abandoned() >= 1, fmt.Sprintf("%d requests abandoned of %v", srv.Abandoned(), srv.Requests())
	})

	srv.SetDelay(0)
	sha, objs, err := render(ctx, app, first)
	if err != nil || sha != first || len(objs) != 1 || objs[0].GetName() != "slow" {
		t.Errorf("once Git is fast again: revision %s, %d objects, %v", sha, len(objs), err)
	}
}

// TestReadRendersPastTheLimitAreShedWith429: with every render slot for reads taken (the render
// workers are shared with the controller), a read at another revision waits at most half its
// budget and is then refused with a 429 that tells the client when to retry, instead of queueing
// on the workers; once the slot frees, reads render again.
func TestReadRendersPastTheLimitAreShedWith429(t *testing.T) {
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("busy")
	repo.Commit("main", map[string]string{
		"slow/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: slow}\n",
		"other/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n",
	}, "first")
	cache, err := source.NewCache(source.Options{Dir: t.TempDir(), Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	eng := engine.New(engine.Config{Source: cache, Applier: apply.NewApplier(stack.RestConfig("admin")),
		Render: func(read render.TreeReader, dir string, opts render.Options) ([]*unstructured.Unstructured, error) {
			if dir == "slow" {
				close(entered)
				<-release
			}
			return render.RenderTree(read, dir, opts)
		}})
	renderer := NewEngineReader(eng, newScheme(), ReadOptions{Timeout: 2 * time.Second, MaxConcurrentReadRenders: 1}).Manifests
	appAt := func(name, path string) *gitops.Application {
		return &gitops.Application{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, ResourceVersion: "1"},
			Spec: gitops.ApplicationSpec{
				Source:      gitops.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: path},
				Destination: gitops.ApplicationDestination{Namespace: "default"},
			},
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	slow := make(chan error, 1)
	go func() {
		_, _, err := renderer(ctx, appAt("slow", "slow"), "")
		slow <- err
	}()
	<-entered

	_, _, err = renderer(ctx, appAt("other", "other"), "")
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("a read while the only render slot is taken returned %v, want 429 Too Many Requests", err)
	}
	if s, ok := err.(apierrors.APIStatus); !ok || s.Status().Details == nil || s.Status().Details.RetryAfterSeconds == 0 {
		t.Errorf("the 429 carries no Retry-After: %#v", err)
	}
	if !strings.Contains(err.Error(), "renders for reads") || !strings.Contains(err.Error(), "retry") {
		t.Errorf("the 429 %q does not say what is busy and that a retry may succeed", err)
	}

	close(release)
	if err := <-slow; err != nil {
		t.Errorf("the read holding the slot: %v", err)
	}
	if _, objs, err := renderer(ctx, appAt("other", "other"), ""); err != nil || len(objs) != 1 {
		t.Errorf("a read once the slot was free: %d objects, %v", len(objs), err)
	}
}

// TestDiffsPastTheLimitAreShedWith429: with every comparison slot taken, a diff waits at most
// half its budget and is then refused with a 429 that tells the client when to retry; once a
// slot frees, the next diff runs.
func TestDiffsPastTheLimitAreShedWith429(t *testing.T) {
	c := NewEngineReader(nil, newScheme(), ReadOptions{Timeout: time.Minute, MaxConcurrentDiffs: 2})
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
