package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestSelectiveSync limits syncs to named objects through kubectl and through the plugin: only
// those are applied, nothing is pruned, the operation says which, the Application stays
// OutOfSync while others differ, and an entry naming no rendered object is refused with 422
// before anything is recorded.
func TestSelectiveSync(t *testing.T) {
	s := requireStack(t)
	plugin := buildPlugin(t, s)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("selective")
	repo.Commit("main", map[string]string{
		"app/a.yaml":   configMapYAML("a", "v1"),
		"app/b.yaml":   configMapYAML("b", "v1"),
		"app/old.yaml": configMapYAML("old", "v1"),
		"app/svc.yaml": serviceYAML("web"),
	}, "first")
	ns := newNamespace(t, "selective")
	kubectlStdin(t, Admin, gitApp(ns, "m", repo, "app", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")
	syncPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/m/sync"
	request := func(spec string) string {
		t.Helper()
		out := kubectlStdin(t, Admin, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync","metadata":{"name":"m"},"spec":`+spec+`}`, "create", "--raw", syncPath, "-f", "-")
		var resp gitopsv1alpha1.ApplicationSync
		if err := json.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return resp.Status.OperationID
	}
	finished := func(id string) *gitopsv1alpha1.Application {
		t.Helper()
		return waitApp(t, ns, "m", "operation "+id+" finished", func(a *gitopsv1alpha1.Application) bool {
			op := a.Status.Operation
			return op != nil && op.ID == id && (op.Phase == gitopsv1alpha1.OperationSucceeded || op.Phase == gitopsv1alpha1.OperationFailed)
		})
	}
	values := func() string {
		t.Helper()
		var vs []string
		for _, name := range []string{"a", "b", "old"} {
			v, ok := configMapValue(t, ns, name)
			if !ok {
				v = "-"
			}
			vs = append(vs, name+"="+v)
		}
		return strings.Join(vs, " ")
	}

	app := finished(request(`{"prune":true}`))
	if app.Status.Operation.Phase != gitopsv1alpha1.OperationSucceeded || values() != "a=v1 b=v1 old=v1" {
		t.Fatalf("the first full sync: %s; %s", describeApp(app), values())
	}

	second := repo.Commit("main", map[string]string{"app/a.yaml": configMapYAML("a", "v2"), "app/b.yaml": configMapYAML("b", "v2"), "app/old.yaml": ""}, "second")

	// Through kubectl: only ConfigMap a, even with prune.
	app = finished(request(`{"prune":true,"resources":[{"kind":"ConfigMap","name":"a"}]}`))
	op := app.Status.Operation
	if op.Phase != gitopsv1alpha1.OperationSucceeded || !strings.Contains(op.Message, "only ConfigMap/"+ns+"/a: 1 configured") {
		t.Errorf("selective sync operation: %s %q", op.Phase, op.Message)
	}
	if got := values(); got != "a=v2 b=v1 old=v1" {
		t.Errorf("after a sync of ConfigMap/a: %s; want only a changed and nothing pruned", got)
	}
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync || app.Status.SourceRevision != second {
		t.Errorf("after a partial sync: %s; want OutOfSync at %s (b differs, old left Git)", describeApp(app), second)
	}

	// Through the plugin: only ConfigMap b.
	r := plugin.expect(t, 0, Admin, "sync", "m", "-n", ns, "--resource", "ConfigMap/b", "--wait")
	wantLines(t, r, "Succeeded", "only ConfigMap/"+ns+"/b: 1 configured")
	if got := values(); got != "a=v2 b=v2 old=v1" {
		t.Errorf("after kubectl ferry sync --resource ConfigMap/b: %s", got)
	}

	// An entry naming nothing Git renders is refused before anything is recorded.
	before := getApp(t, ns, "m").Status.Operation.ID
	bad := kubectlFails(t, Admin, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync","metadata":{"name":"m"},"spec":{"resources":[{"kind":"ConfigMap","name":"a"},{"kind":"ConfigMap","name":"old"}]}}`,
		"create", "--raw", syncPath, "-f", "-")
	if !strings.Contains(bad.Stderr, "spec.resources[1]") || strings.Contains(bad.Stderr, "spec.resources[0]") {
		t.Errorf("a sync of a ConfigMap that left Git: want 422 naming spec.resources[1] only: %s", bad)
	}
	r = plugin.expect(t, 2, Admin, "sync", "m", "-n", ns, "--resource", "apps/Deployment//web")
	if !strings.Contains(r.Stderr, "spec.resources[0]") {
		t.Errorf("plugin: a Deployment Git does not hold: %s", r)
	}
	if after := getApp(t, ns, "m").Status.Operation.ID; after != before {
		t.Errorf("a refused selective sync recorded operation %s", after)
	}

	// A full sync with prune finishes the job.
	app = finished(request(`{"prune":true}`))
	if got := values(); got != "a=v2 b=v2 old=-" || app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || app.Status.Sync.Revision != second {
		t.Errorf("after a full sync: %s; %s", got, describeApp(app))
	}
}
