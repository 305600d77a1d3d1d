package plugin

import (
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// refreshReactor answers POST refresh as the server does and records each request; with
// handle, it also stores the refresh as handled, as the controller would once done.
func refreshReactor(h *harness, handle bool, got *[]*gitopsv1alpha1.ApplicationRefresh) {
	gvr := gitopsv1alpha1.SchemeGroupVersion.WithResource("applications")
	at := metav1.NewMicroTime(testNow)
	h.client.PrependReactor("create", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "refresh" {
			return false, nil, nil
		}
		req := a.(clienttesting.CreateAction).GetObject().(*gitopsv1alpha1.ApplicationRefresh)
		*got = append(*got, req)
		if handle {
			obj, err := h.client.Tracker().Get(gvr, a.GetNamespace(), req.Name)
			if err != nil {
				return true, nil, err
			}
			app := obj.(*gitopsv1alpha1.Application).DeepCopy()
			app.Status.Refresh = &gitopsv1alpha1.RefreshStatus{RequestedAt: at, HandledAt: &at, Reason: req.Spec.Reason}
			if err := h.client.Tracker().Update(gvr, app, a.GetNamespace()); err != nil {
				return true, nil, err
			}
		}
		return true, &gitopsv1alpha1.ApplicationRefresh{
			ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: a.GetNamespace()},
			Spec:       req.Spec,
			Status:     gitopsv1alpha1.ApplicationRefreshStatus{RequestedAt: at, ApplicationResourceVersion: "7"},
		}, nil
	})
}

func labelled(app *gitopsv1alpha1.Application, name string, lbls map[string]string, suspend bool) *gitopsv1alpha1.Application {
	app = app.DeepCopy()
	app.Name, app.Labels, app.Spec.Suspend = name, lbls, suspend
	return app
}

func TestRefreshOneApplication(t *testing.T) {
	h := newHarness(t, webApp())
	var got []*gitopsv1alpha1.ApplicationRefresh
	refreshReactor(h, false, &got)
	h.mustRun(ExitCodeOK, "refresh", "web", "--reason", "pushed by CI")
	if len(got) != 1 || got[0].Name != "web" || got[0].Spec.Reason != "pushed by CI" || got[0].Kind != "ApplicationRefresh" {
		t.Fatalf("refresh requests %+v; want one ApplicationRefresh for web with the reason", got)
	}
	if want := "refresh of team/web requested\n"; h.out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", h.out, want)
	}
}

func TestRefreshWaitsUntilHandled(t *testing.T) {
	h := newHarness(t, webApp())
	var got []*gitopsv1alpha1.ApplicationRefresh
	refreshReactor(h, true, &got)
	h.mustRun(ExitCodeOK, "refresh", "web", "--wait")
	want := `refresh of team/web requested
Waiting for 1 refresh (timeout 2m0s):
      0s  team/web: Synced at 3f2a9c1b7d4e (source 3f2a9c1b7d4e)
`
	if h.out.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", h.out, want)
	}
}

func TestRefreshWaitTimesOutWhenNotHandled(t *testing.T) {
	h := newHarness(t, webApp())
	var got []*gitopsv1alpha1.ApplicationRefresh
	refreshReactor(h, false, &got)
	h.mustRun(ExitCodeError, "refresh", "web", "--wait", "--timeout", "1200ms")
	if !strings.Contains(h.err.String(), "timed out after 1.2s: 1 refresh not handled yet, such as team/web") {
		t.Errorf("stderr:\n%s\nwant the timeout naming team/web", h.err)
	}
}

func TestRefreshBySelectorSkipsSuspendedAndUnselected(t *testing.T) {
	h := newHarness(t,
		labelled(webApp(), "web", map[string]string{"team": "shop"}, false),
		labelled(webApp(), "cart", map[string]string{"team": "shop"}, false),
		labelled(webApp(), "paused", map[string]string{"team": "shop"}, true),
		labelled(webApp(), "blog", map[string]string{"team": "news"}, false),
	)
	var got []*gitopsv1alpha1.ApplicationRefresh
	refreshReactor(h, false, &got)
	h.mustRun(ExitCodeOK, "refresh", "-l", "team=shop")
	var names []string
	for _, r := range got {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "cart,web" {
		t.Errorf("refreshed %v; want cart and web: blog is not selected, paused is suspended", names)
	}
	// The list's order is the store's; each Application has its line.
	out := h.out.String()
	for _, line := range []string{"refresh of team/cart requested\n", "refresh of team/web requested\n", "team/paused is suspended: skipped\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("stdout:\n%s\nwant a line %q", out, line)
		}
	}
	if strings.Contains(out, "blog") {
		t.Errorf("stdout names blog, which -l team=shop does not select:\n%s", out)
	}

	got = nil
	h.mustRun(ExitCodeOK, "refresh", "--all")
	if len(got) != 3 {
		t.Errorf("--all refreshed %d Applications, want 3 (every one but the suspended)", len(got))
	}
}

func TestRefreshRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"suspended", apierrors.NewConflict(gitopsv1alpha1.Resource("applications"), "web", errSuspended), ExitCodeFailed, "suspended"},
		{"forbidden", apierrors.NewForbidden(gitopsv1alpha1.Resource("applications/refresh"), "web", errNoVerb), ExitCodeError, `"create applications/refresh"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, webApp())
			h.client.PrependReactor("create", "applications", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, tc.err
			})
			h.mustRun(tc.code, "refresh", "web")
			if !strings.Contains(h.err.String(), tc.stderr) {
				t.Errorf("stderr:\n%s\nwant it to mention %s", h.err, tc.stderr)
			}
		})
	}
}

func TestRefreshUsage(t *testing.T) {
	h := newHarness(t, webApp())
	for _, args := range [][]string{
		{"refresh"},
		{"refresh", "web", "--all"},
		{"refresh", "-l", "a=b", "--all"},
		{"refresh", "web", "-A"},
		{"refresh", "web", "--timeout", "1m"},
		{"refresh", "-l", "a=(b"},
	} {
		h.mustRun(ExitCodeError, args...)
		if !strings.Contains(h.err.String(), "--help") {
			t.Errorf("kubectl ferry %s: stderr %q, want a usage error", strings.Join(args, " "), h.err)
		}
	}
}

var (
	errSuspended = errorString("the Application is suspended: nothing was recorded; set spec.suspend to false first")
	errNoVerb    = errorString(`User "ci" cannot create resource "applications/refresh"`)
)

type errorString string

func (e errorString) Error() string { return string(e) }

func TestStatusShowsTheLastRefresh(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handled bool
		want    string
	}{
		{"pending", false, "Refresh:      requested 2m ago by ci, pending: push 0d1a26e67d8f to refs/heads/main\n"},
		{"handled", true, "Refresh:      requested 2m ago by ci, handled: push 0d1a26e67d8f to refs/heads/main\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := webApp()
			at := metav1.NewMicroTime(testNow.Add(-2 * time.Minute))
			app.Status.Refresh = &gitopsv1alpha1.RefreshStatus{RequestedAt: at, RequestedBy: "ci", Reason: "push 0d1a26e67d8f to refs/heads/main"}
			if tc.handled {
				app.Status.Refresh.HandledAt = &at
			}
			h := newHarness(t, app)
			h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
				return a.GetSubresource() == "health", &gitopsv1alpha1.ApplicationHealth{Status: "Healthy"}, nil
			})
			h.mustRun(0, "status", "web")
			if !strings.Contains(h.out.String(), tc.want) {
				t.Errorf("status:\n%s\nwant a line %q", h.out, tc.want)
			}
		})
	}
}
