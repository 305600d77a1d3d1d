package plugin

import (
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

// rollbackReactor answers POST rollback as the server would, or with err, and records the request.
func rollbackReactor(h *harness, revision string, err error, got **gitopsv1alpha1.ApplicationRollback) {
	h.client.PrependReactor("create", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "rollback" {
			return false, nil, nil
		}
		req := a.(clienttesting.CreateAction).GetObject().(*gitopsv1alpha1.ApplicationRollback)
		*got = req
		if err != nil {
			return true, nil, err
		}
		return true, &gitopsv1alpha1.ApplicationRollback{
			ObjectMeta: metav1.ObjectMeta{Name: req.Name, Namespace: a.GetNamespace()},
			Spec:       req.Spec,
			Status:     gitopsv1alpha1.ApplicationRollbackStatus{OperationID: "op-rb", Phase: "Pending", Revision: revision, ApplicationResourceVersion: "42"},
		}, nil
	})
}

func TestRollbackWaitSucceeds(t *testing.T) {
	h := newHarness(t, brokenApp())
	var req *gitopsv1alpha1.ApplicationRollback
	good := strings.Repeat("ab", 20)
	rollbackReactor(h, good, nil, &req)
	var restrictions []clienttesting.WatchRestrictions
	watchReactor(h, &restrictions,
		watch.Event{Type: watch.Modified, Object: withOperation("op-rb", "Running", "")},
		watch.Event{Type: watch.Modified, Object: withOperation("op-rb", "Succeeded", "revision ababababab: 1 configured")},
	)
	h.mustRun(0, "rollback", "broken", "0c7c1b52", "--prune", "--wait")
	if req.Name != "broken" || req.Spec.ID != "0c7c1b52" || !req.Spec.Prune {
		t.Errorf("rollback request %+v, want id 0c7c1b52 with prune", req)
	}
	if !strings.HasPrefix(h.out.String(), "rollback of team/broken to abababababab requested: operation op-rb (Pending)\n") ||
		!strings.Contains(h.out.String(), "Succeeded  revision ababababab: 1 configured") {
		t.Errorf("rollback --wait:\n%s", h.out)
	}
}

func TestRollbackRefused(t *testing.T) {
	h := newHarness(t, brokenApp())
	var req *gitopsv1alpha1.ApplicationRollback
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications/rollback"}, "broken", nil)
	rollbackReactor(h, "", forbidden, &req)
	h.mustRun(2, "rollback", "broken")
	if req == nil || req.Spec.ID != "" {
		t.Errorf("rollback request %+v, want one without an id (the server picks the entry)", req)
	}
	if !strings.Contains(h.err.String(), "Forbidden") || !strings.Contains(h.err.String(), "rollback") {
		t.Errorf("stderr %q: want the API's Forbidden naming rollback", h.err)
	}
	h = newHarness(t, brokenApp())
	h.mustRun(2, "rollback", "broken", "--timeout", "1m")
	if !strings.Contains(h.err.String(), "--timeout needs --wait") {
		t.Errorf("stderr %q", h.err)
	}
}
