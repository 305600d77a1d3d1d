package plugin

import (
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// syncReactor answers POST sync with operation id and the Application's resourceVersion, and
// records the request.
func syncReactor(h *harness, id string, got **gitopsv1alpha1.ApplicationSync) {
	h.client.PrependReactor("create", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "sync" {
			return false, nil, nil
		}
		req := a.(clienttesting.CreateAction).GetObject().(*gitopsv1alpha1.ApplicationSync)
		if got != nil {
			*got = req
		}
		return true, &gitopsv1alpha1.ApplicationSync{
			ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: a.GetNamespace()},
			Spec:       req.Spec,
			Status:     gitopsv1alpha1.ApplicationSyncStatus{OperationID: id, Phase: "Pending", ApplicationResourceVersion: "42"},
		}, nil
	})
}

// watchReactor answers watches with the given events (the watch stays open after them) and
// records the restrictions of each.
func watchReactor(h *harness, restrictions *[]clienttesting.WatchRestrictions, events ...watch.Event) {
	h.client.PrependWatchReactor("applications", func(a clienttesting.Action) (bool, watch.Interface, error) {
		*restrictions = append(*restrictions, a.(clienttesting.WatchAction).GetWatchRestrictions())
		w := watch.NewFakeWithChanSize(len(events), false)
		for _, ev := range events {
			w.Action(ev.Type, ev.Object)
		}
		return true, w, nil
	})
}

func withOperation(id string, phase gitopsv1alpha1.OperationPhase, msg string) *gitopsv1alpha1.Application {
	app := brokenApp()
	app.ResourceVersion = "43"
	app.Status.Operation = &gitopsv1alpha1.Operation{ID: id, Phase: phase, Message: msg, RequestedBy: gitopsv1alpha1.RequestedBy{Username: "admin"}}
	return app
}

func TestSyncWaitSucceeds(t *testing.T) {
	h := newHarness(t, brokenApp())
	var req *gitopsv1alpha1.ApplicationSync
	syncReactor(h, "op-1234567890", &req)
	var restrictions []clienttesting.WatchRestrictions
	watchReactor(h, &restrictions,
		watch.Event{Type: watch.Modified, Object: withOperation("op-1234567890", "Pending", "")},
		watch.Event{Type: watch.Modified, Object: withOperation("op-1234567890", "Running", "")},
		watch.Event{Type: watch.Modified, Object: withOperation("op-1234567890", "Running", "")}, // no new line
		watch.Event{Type: watch.Modified, Object: withOperation("op-1234567890", "Succeeded", "revision 3f2a9c1b7d4e: 1 created")},
	)
	h.mustRun(0, "sync", "broken", "--revision", "v2", "--prune", "--wait")
	if req.Name != "broken" || req.Spec.Revision != "v2" || !req.Spec.Prune || req.Spec.DryRun {
		t.Errorf("sync request %+v", req)
	}
	if len(restrictions) != 1 || restrictions[0].ResourceVersion != "42" || restrictions[0].Fields.String() != "metadata.name=broken" {
		t.Errorf("watch restrictions %+v: want one watch of metadata.name=broken from resourceVersion 42", restrictions)
	}
	want := `sync of team/broken requested: operation op-1234567890 (Pending)
Waiting for operation op-12345 (timeout 5m0s):
      0s  Pending
      0s  Running
      0s  Succeeded  revision 3f2a9c1b7d4e: 1 created
`
	if h.out.String() != want {
		t.Errorf("sync --wait:\n%s\nwant:\n%s", h.out, want)
	}
}

func TestSyncWaitFails(t *testing.T) {
	h := newHarness(t, brokenApp())
	syncReactor(h, "op-1", nil)
	var restrictions []clienttesting.WatchRestrictions
	watchReactor(h, &restrictions,
		watch.Event{Type: watch.Modified, Object: withOperation("op-1", "Running", "")},
		watch.Event{Type: watch.Modified, Object: withOperation("op-1", "Failed", "Deployment.apps/team/broken is invalid")},
	)
	h.mustRun(1, "sync", "broken", "--wait")
	if !strings.Contains(h.out.String(), "Failed  Deployment.apps/team/broken is invalid") {
		t.Errorf("sync --wait stdout:\n%s", h.out)
	}
	if want := "error: sync of team/broken failed: Deployment.apps/team/broken is invalid\nSee the conditions with: kubectl ferry status broken -n team\n"; h.err.String() != want {
		t.Errorf("sync --wait stderr %q, want %q", h.err, want)
	}
}

func TestSyncWaitFindsTheOperationInHistory(t *testing.T) {
	h := newHarness(t, brokenApp())
	syncReactor(h, "op-1", nil)
	later := withOperation("op-2", "Running", "")
	later.Status.History = []gitopsv1alpha1.OperationRecord{{ID: "op-1", Phase: "Succeeded", Message: "done"}}
	var restrictions []clienttesting.WatchRestrictions
	watchReactor(h, &restrictions, watch.Event{Type: watch.Modified, Object: later})
	h.mustRun(0, "sync", "broken", "--wait")
	if !strings.Contains(h.out.String(), "Succeeded  done") {
		t.Errorf("sync --wait:\n%s", h.out)
	}
}

func TestSyncWaitRewatchesAfterExpiry(t *testing.T) {
	h := newHarness(t, withOperation("op-1", "Running", ""))
	syncReactor(h, "op-1", nil)
	calls := 0
	var restrictions []clienttesting.WatchRestrictions
	h.client.PrependWatchReactor("applications", func(a clienttesting.Action) (bool, watch.Interface, error) {
		restrictions = append(restrictions, a.(clienttesting.WatchAction).GetWatchRestrictions())
		calls++
		w := watch.NewFakeWithChanSize(1, false)
		if calls == 1 {
			w.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
		} else {
			w.Modify(withOperation("op-1", "Succeeded", "ok"))
		}
		return true, w, nil
	})
	h.mustRun(0, "sync", "broken", "--wait")
	// After 410 Gone it reads the Application (resourceVersion "" in the fake) and watches again.
	if len(restrictions) != 2 || restrictions[0].ResourceVersion != "42" {
		t.Errorf("watches %+v", restrictions)
	}
	if !strings.Contains(h.out.String(), "Running") || !strings.Contains(h.out.String(), "Succeeded  ok") {
		t.Errorf("sync --wait:\n%s", h.out)
	}
}

func TestSyncWaitTimesOut(t *testing.T) {
	h := newHarness(t, brokenApp())
	syncReactor(h, "op-1", nil)
	var restrictions []clienttesting.WatchRestrictions
	watchReactor(h, &restrictions, watch.Event{Type: watch.Modified, Object: withOperation("op-1", "Running", "")})
	h.mustRun(2, "sync", "broken", "--wait", "--timeout", "100ms")
	if !strings.Contains(h.err.String(), "timed out after 100ms waiting for operation op-1 of Application team/broken; it is still Running") ||
		!strings.Contains(h.err.String(), "kubectl ferry status broken -n team") {
		t.Errorf("sync --wait timeout stderr:\n%s", h.err)
	}
}

func TestSyncWithoutWait(t *testing.T) {
	h := newHarness(t, brokenApp())
	var req *gitopsv1alpha1.ApplicationSync
	syncReactor(h, "op-1", &req)
	h.mustRun(0, "sync", "broken", "--dry-run")
	if !req.Spec.DryRun {
		t.Errorf("--dry-run not sent: %+v", req.Spec)
	}
	want := "dry-run sync of team/broken requested: operation op-1 (Pending)\nFollow it with: kubectl ferry status broken -n team\n"
	if h.out.String() != want {
		t.Errorf("sync:\n%q\nwant\n%q", h.out, want)
	}
}

func TestSyncOfSomeResources(t *testing.T) {
	h := newHarness(t, brokenApp())
	var req *gitopsv1alpha1.ApplicationSync
	syncReactor(h, "op-1", &req)
	h.mustRun(0, "sync", "broken", "--resource", "ConfigMap/settings", "--resource", "apps/Deployment/web/frontend", "--resource", "/Service//api")
	want := []gitopsv1alpha1.SyncResource{
		{Kind: "ConfigMap", Name: "settings"},
		{Group: "apps", Kind: "Deployment", Namespace: "web", Name: "frontend"},
		{Kind: "Service", Name: "api"},
	}
	if !reflect.DeepEqual(req.Spec.Resources, want) {
		t.Errorf("resources sent %+v, want %+v", req.Spec.Resources, want)
	}
	for _, bad := range []string{"settings", "apps/Deployment/frontend", "ConfigMap/", "/a/b/c/d/e"} {
		h = newHarness(t, brokenApp())
		req = nil
		syncReactor(h, "op-2", &req)
		h.mustRun(2, "sync", "broken", "--resource", bad)
		if req != nil || !strings.Contains(h.err.String(), "--resource") {
			t.Errorf("--resource %q: sent %v, stderr %q; want a usage error and no request", bad, req, h.err)
		}
	}
}

func TestSyncRefused(t *testing.T) {
	h := newHarness(t, brokenApp())
	gr := schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications"}
	var refusal error
	h.client.PrependReactor("create", "applications", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, refusal
	})

	refusal = apierrors.NewConflict(gr, "broken", errString("operation 1234 requested by admin is Running; wait for it to finish"))
	h.mustRun(1, "sync", "broken", "--wait")
	if !strings.Contains(h.err.String(), "operation 1234 requested by admin is Running; wait for it to finish") {
		t.Errorf("sync refused with 409: %s", h.err)
	}

	refusal = apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications/sync"}, "broken", errString(`User "viewer" cannot create resource "applications/sync"`))
	h.mustRun(2, "sync", "broken")
	for _, want := range []string{"error: Forbidden: ", `User "viewer" cannot create resource "applications/sync"`, `"create applications/sync"`, "ferry-edit",
		"kubectl auth can-i create applications.gitops.ferry.dev --subresource=sync -n team"} {
		if !strings.Contains(h.err.String(), want) {
			t.Errorf("sync forbidden: stderr lacks %q:\n%s", want, h.err)
		}
	}
}
