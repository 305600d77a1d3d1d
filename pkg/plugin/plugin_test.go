package plugin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
	ferrydiff "github.com/ferry-gitops/ferry/pkg/gitops/diff"
)

var testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

const (
	sha1 = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f9012345"
)

func minutesAgo(m int) metav1.Time {
	return metav1.NewTime(testNow.Add(-time.Duration(m) * time.Minute))
}

func ptrTime(t metav1.Time) *metav1.Time { return &t }

// harness runs commands against a fake clientset, or against clientset when it is set.
type harness struct {
	t         *testing.T
	client    *fake.Clientset
	clientset versioned.Interface
	out, err  *bytes.Buffer
	color     bool
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	return &harness{t: t, client: fake.NewSimpleClientset(objs...), out: &bytes.Buffer{}, err: &bytes.Buffer{}}
}

// run executes kubectl ferry args; the namespace is -n's, else "team".
func (h *harness) run(args ...string) int {
	h.t.Helper()
	h.out.Reset()
	h.err.Reset()
	o := NewOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: h.out, ErrOut: h.err})
	o.Color = h.color
	o.Now = func() time.Time { return testNow }
	o.NewClient = func() (versioned.Interface, error) {
		if h.clientset != nil {
			return h.clientset, nil
		}
		return h.client, nil
	}
	o.Namespace = func() (string, error) {
		if ns := *o.ConfigFlags.Namespace; ns != "" {
			return ns, nil
		}
		return "team", nil
	}
	return Run(context.Background(), o, args)
}

func (h *harness) mustRun(want int, args ...string) {
	h.t.Helper()
	if got := h.run(args...); got != want {
		h.t.Fatalf("kubectl ferry %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, want, h.out, h.err)
	}
}

func webApp() *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team", CreationTimestamp: minutesAgo(90), ResourceVersion: "10",
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Revision: "main", Path: "apps/web"},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "web"},
		},
		Status: gitopsv1alpha1.ApplicationStatus{
			SourceRevision: sha1,
			Sync:           gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusSynced, Revision: sha1},
			Health:         gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthHealthy},
			Conditions: []metav1.Condition{
				{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "applied revision 3f2a9c1b7d4e", LastTransitionTime: minutesAgo(5)},
				{Type: "Synced", Status: metav1.ConditionTrue, Reason: "Synced", Message: "in sync", LastTransitionTime: minutesAgo(5)},
			},
			Resources: []gitopsv1alpha1.ResourceStatus{
				{Version: "v1", Kind: "Service", Namespace: "web", Name: "web", Status: "Synced", Health: "Healthy"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Status: "Synced", Health: "Healthy"},
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web", Status: "OutOfSync", Health: "Healthy"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "a-config", Status: "Synced", Health: "Healthy"},
				{Version: "v1", Kind: "Namespace", Name: "web", Status: "Synced", Health: "Healthy"},
			},
			Operation: &gitopsv1alpha1.Operation{
				ID: "b555911b-0618-48fd-bdfa-aebdb9d7be78", Phase: gitopsv1alpha1.OperationSucceeded, Revision: "main", Prune: true,
				RequestedBy: gitopsv1alpha1.RequestedBy{Username: "alice", Groups: []string{"devs"}},
				RequestedAt: minutesAgo(6), StartedAt: ptrTime(minutesAgo(6)), FinishedAt: ptrTime(minutesAgo(5)),
				SyncedRevision: sha1, Message: "revision 3f2a9c1b7d4e: 3 created",
			},
			History: []gitopsv1alpha1.OperationRecord{
				{ID: "b555911b-0618-48fd-bdfa-aebdb9d7be78", Phase: "Succeeded", Revision: "main", SyncedRevision: sha1, Prune: true,
					RequestedBy: "alice", FinishedAt: ptrTime(minutesAgo(5)), Message: "revision 3f2a9c1b7d4e: 3 created"},
				{ID: "0c1d2e3f-aaaa-bbbb-cccc-dddddddddddd", Phase: "Failed", Revision: "main", RequestedBy: "bob",
					DryRun: true, FinishedAt: ptrTime(minutesAgo(60)), Message: "Deployment.apps/web/web is invalid: spec.template.spec.containers: Required value"},
			},
			ReconciledAt: ptrTime(minutesAgo(1)),
		},
	}
}

func brokenApp() *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "team", CreationTimestamp: minutesAgo(3)},
		Spec:       gitopsv1alpha1.ApplicationSpec{Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/repo.git", Path: "bad"}},
		Status: gitopsv1alpha1.ApplicationStatus{
			Sync:   gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusOutOfSync},
			Health: gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthMissing},
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "ApplyFailed",
				Message: "Deployment.apps/team/broken is invalid: spec.template.spec.containers: Required value; nothing was applied"}},
		},
	}
}

func otherApp() *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "data", CreationTimestamp: minutesAgo(60 * 49)},
		Status:     gitopsv1alpha1.ApplicationStatus{Operation: &gitopsv1alpha1.Operation{ID: "x", Phase: "Running", RequestedBy: gitopsv1alpha1.RequestedBy{Username: "carol"}}},
	}
}

func TestListTable(t *testing.T) {
	h := newHarness(t, webApp(), brokenApp(), otherApp())
	h.mustRun(0, "list")
	want := `NAME     SYNC        HEALTH    REVISION       READY   AGE   MESSAGE
broken   OutOfSync   Missing   -              False   3m    Deployment.apps/team/broken is invalid: spec.template.spec.…
web      Synced      Healthy   3f2a9c1b7d4e   True    90m   applied revision 3f2a9c1b7d4e
`
	if h.out.String() != want {
		t.Errorf("list:\n%s\nwant:\n%s", h.out, want)
	}

	h.mustRun(0, "list", "-A")
	want = `NAMESPACE   NAME     SYNC        HEALTH    REVISION       READY     AGE   MESSAGE
data        db       Unknown     Unknown   -              Unknown   2d1h  sync Running (requested by carol)
team        broken   OutOfSync   Missing   -              False     3m    Deployment.apps/team/broken is invalid: spec.template.spec.…
team        web      Synced      Healthy   3f2a9c1b7d4e   True      90m   applied revision 3f2a9c1b7d4e
`
	if normalizeSpace(h.out.String()) != normalizeSpace(want) {
		t.Errorf("list -A:\n%s\nwant:\n%s", h.out, want)
	}
	if !strings.HasPrefix(h.out.String(), "NAMESPACE   NAME     SYNC") {
		t.Errorf("list -A header:\n%s", h.out)
	}

	h.mustRun(0, "list", "-n", "empty")
	if h.out.Len() != 0 || h.err.String() != "No Applications found in namespace empty.\n" {
		t.Errorf("list of an empty namespace: stdout %q stderr %q", h.out, h.err)
	}
}

func normalizeSpace(s string) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(lines, "\n")
}

func TestListOutputs(t *testing.T) {
	h := newHarness(t, webApp(), brokenApp())
	h.mustRun(0, "list", "-o", "json")
	var list gitopsv1alpha1.ApplicationList
	if err := json.Unmarshal(h.out.Bytes(), &list); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, h.out)
	}
	if list.Kind != "ApplicationList" || list.APIVersion != "gitops.ferry.dev/v1alpha1" || len(list.Items) != 2 ||
		list.Items[1].Kind != "Application" || list.Items[1].Status.Sync.Revision != sha1 || list.Items[1].ManagedFields != nil {
		t.Errorf("list -o json: %+v", list)
	}

	h.mustRun(0, "list", "-o", "yaml")
	if err := yaml.Unmarshal(h.out.Bytes(), &list); err != nil || len(list.Items) != 2 {
		t.Errorf("list -o yaml: %v\n%s", err, h.out)
	}
}

func TestStatus(t *testing.T) {
	h := newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "health" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationHealth{Status: "Progressing", Resources: []gitopsv1alpha1.ResourceHealth{
			{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web", Status: "Progressing", Message: "Deployment does not have minimum availability"},
			{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Status: "Healthy"},
		}}, nil
	})
	h.mustRun(0, "status", "web")
	out := h.out.String()
	for _, want := range []string{
		"Name:         web\n",
		"Namespace:    team\n",
		"Source:       https://git.example.com/org/repo.git\n",
		"Path:         apps/web\n",
		"Revision:     main → 3f2a9c1b7d4e\n",
		"Sync:         Synced (applied 3f2a9c1b7d4e)\n",
		"Health:       Healthy\n",
		"Sync policy:  manual (kubectl ferry sync web -n team)\n",
		"Reconciled:   60s ago\n",
		"  TYPE     STATUS   REASON      AGE   MESSAGE\n  Ready    True     Succeeded   5m    applied revision 3f2a9c1b7d4e\n",
		"  Phase:         Succeeded\n",
		"  Revision:      main → 3f2a9c1b7d4e\n",
		"  Options:       prune\n",
		"  Requested by:  alice (devs)\n",
		"  Finished:      2026-03-04T11:55:00Z (5m ago, took 1m0s)\n",
		"  Message:       revision 3f2a9c1b7d4e: 3 created\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	tree := `Resources (5; health read live):
  ConfigMap
  ├─ web/a-config       Synced      Healthy
  └─ web/web-settings   Synced      Healthy
  Deployment.apps
  └─ web/web            OutOfSync   Progressing   Deployment does not have minimum availability
  Namespace
  └─ web                Synced      Healthy
  Service
  └─ web/web            Synced      Healthy
`
	if !strings.HasSuffix(out, tree) {
		t.Errorf("status resource tree:\n%s\nwant:\n%s", out, tree)
	}

	h.mustRun(0, "status", "web", "-o", "json")
	var app gitopsv1alpha1.Application
	if err := json.Unmarshal(h.out.Bytes(), &app); err != nil || app.Kind != "Application" || app.Name != "web" || len(app.Status.Resources) != 5 {
		t.Errorf("status -o json: %v %+v", err, app)
	}
}

// TestStatusShowsTheWavesOfTheOperation: an operation applied in sync waves lists them in order,
// each with its phase, object count and message; the dependencies are listed with the policy.
func TestStatusShowsTheWavesOfTheOperation(t *testing.T) {
	app := webApp()
	app.Status.Operation.Steps = []gitopsv1alpha1.OperationStep{
		{Type: gitopsv1alpha1.OperationStepWave, Wave: -1, Objects: 1, Phase: gitopsv1alpha1.OperationSucceeded, Message: "1 object applied and Healthy"},
		{Type: gitopsv1alpha1.OperationStepWave, Wave: 0, Objects: 3, Phase: gitopsv1alpha1.OperationFailed, Message: "wave 0: Deployment/web is Progressing after 5m0s"},
		{Type: gitopsv1alpha1.OperationStepWave, Wave: 5, Objects: 2, Phase: gitopsv1alpha1.OperationPending},
	}
	app.Spec.DependsOn = []gitopsv1alpha1.ApplicationReference{{Name: "db"}, {Name: "cache", Namespace: "platform"}}
	h := newHarness(t, app)
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return a.GetSubresource() == "health", &gitopsv1alpha1.ApplicationHealth{Status: "Healthy"}, nil
	})
	h.mustRun(0, "status", "web")
	if !strings.Contains(h.out.String(), "Depends on:   team/db, platform/cache\n") {
		t.Errorf("status does not list the dependencies:\n%s", h.out)
	}
	want := `  Steps:
    STEP      PHASE       OBJECTS   MESSAGE
    wave -1   Succeeded   1         1 object applied and Healthy
    wave 0    Failed      3         wave 0: Deployment/web is Progressing after 5m0s
    wave 5    Pending     2         -
`
	if !strings.Contains(h.out.String(), want) {
		t.Errorf("status does not list the waves:\n%s\nwant:\n%s", h.out, want)
	}
}

func TestStatusFallsBackToStoredHealthWhenForbidden(t *testing.T) {
	h := newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "health" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications/health"}, "web", nil)
	})
	h.mustRun(0, "status", "web")
	out := h.out.String()
	if !strings.Contains(out, "Resources (5; health from status: you may not get applications/health (the ferry-view ClusterRole grants it)):") {
		t.Errorf("status should say health comes from status:\n%s", out)
	}
	if !strings.Contains(out, "└─ web/web            OutOfSync   Healthy\n") {
		t.Errorf("status should show the stored health:\n%s", out)
	}
}

func TestNotFoundAndMissingAPI(t *testing.T) {
	h := newHarness(t)
	for _, cmd := range []string{"status", "history", "health", "sync", "diff", "manifests"} {
		h.mustRun(2, cmd, "nope")
		if want := "error: no Application nope in namespace team (kubectl ferry list -A)\n"; h.err.String() != want {
			t.Errorf("%s of a missing Application: stderr %q, want %q", cmd, h.err, want)
		}
	}
	h.client.PrependReactor("*", "*", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewGenericServerResponse(404, "get", schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications"}, "web", "", 0, false)
	})
	h.mustRun(2, "list")
	if !strings.Contains(h.err.String(), "is Ferry installed?") || !strings.Contains(h.err.String(), "kubectl get apiservice v1alpha1.gitops.ferry.dev") {
		t.Errorf("list without Ferry's API: %s", h.err)
	}
}

func TestHealth(t *testing.T) {
	h := newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "health" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationHealth{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"},
			Status:     "Progressing", Message: "Deployment/web: Deployment does not have minimum availability",
			Resources: []gitopsv1alpha1.ResourceHealth{
				{Version: "v1", Kind: "Namespace", Name: "web", Status: "Healthy"},
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "web", Status: "Progressing", Message: "Deployment does not have minimum availability"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Status: "Healthy"},
			},
		}, nil
	})
	h.mustRun(0, "health", "web")
	want := `Health: Progressing (Deployment/web: Deployment does not have minimum availability)

KIND              NAMESPACE   NAME           HEALTH        MESSAGE
ConfigMap         web         web-settings   Healthy
Deployment.apps   web         web            Progressing   Deployment does not have minimum availability
Namespace         -           web            Healthy
`
	if h.out.String() != want {
		t.Errorf("health:\n%s\nwant:\n%s", h.out, want)
	}
	h.mustRun(0, "health", "web", "-o", "yaml")
	var ah gitopsv1alpha1.ApplicationHealth
	if err := yaml.Unmarshal(h.out.Bytes(), &ah); err != nil || ah.Kind != "ApplicationHealth" || len(ah.Resources) != 3 {
		t.Errorf("health -o yaml: %v\n%s", err, h.out)
	}
}

func TestHistory(t *testing.T) {
	app := webApp()
	app.Status.Operation = &gitopsv1alpha1.Operation{ID: "99999999-0000", Phase: "Running", RequestedBy: gitopsv1alpha1.RequestedBy{Username: "dave"}, RequestedAt: minutesAgo(2)}
	h := newHarness(t, app)
	h.mustRun(0, "history", "web")
	want := `Operation 99999999 is Running (requested by dave 2m ago).
ID         PHASE       REVISION       REQUESTED-BY   FINISHED   MESSAGE
b555911b   Succeeded   3f2a9c1b7d4e   alice          5m ago     (prune) revision 3f2a9c1b7d4e: 3 created
0c1d2e3f   Failed      main           bob            60m ago    (dry run) Deployment.apps/web/web is invalid: spec.template.spec.containers: Re…
`
	if h.out.String() != want {
		t.Errorf("history:\n%s\nwant:\n%s", h.out, want)
	}
	h.mustRun(0, "history", "web", "-o", "json")
	var records []gitopsv1alpha1.OperationRecord
	if err := json.Unmarshal(h.out.Bytes(), &records); err != nil || len(records) != 2 || records[1].Phase != "Failed" {
		t.Errorf("history -o json: %v\n%s", err, h.out)
	}

	h = newHarness(t, brokenApp())
	h.mustRun(0, "history", "broken")
	if !strings.Contains(h.err.String(), "No finished operations recorded for Application broken in namespace team.") {
		t.Errorf("history without operations: %q", h.err)
	}
}

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

type errString string

func (e errString) Error() string { return string(e) }

func TestUsageErrors(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate" for "kubectl ferry"`},
		{[]string{"status"}, "kubectl ferry status needs the Application's name"},
		{[]string{"status", "a", "b"}, "takes one Application, got 2 arguments"},
		{[]string{"list", "extra"}, "kubectl ferry list takes no arguments"},
		{[]string{"list", "-o", "wide"}, `unsupported output format "wide": use -o json or -o yaml`},
		{[]string{"sync", "a", "--timeout", "1m"}, "--timeout needs --wait"},
		{[]string{"sync", "a", "--wait", "--timeout", "0s"}, "--timeout must be positive"},
		{[]string{"sync", "a", "--nope"}, "unknown flag: --nope"},
		{[]string{"diff"}, "kubectl ferry diff needs the Application's name"},
		{[]string{"diff", "a", "-o", "wide"}, `unsupported output format "wide": use -o json or -o yaml`},
		{[]string{"diff", "a", "--revision"}, "flag needs an argument: --revision"},
		{[]string{"manifests", "a", "b"}, "takes one Application, got 2 arguments"},
		{[]string{"manifests", "a", "-o", "name"}, `unsupported output format "name": use -o json or -o yaml`},
	} {
		if code := h.run(tc.args...); code != 2 || !strings.Contains(h.err.String(), tc.want) || !strings.Contains(h.err.String(), "--help' for usage.") {
			t.Errorf("kubectl ferry %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, h.err, tc.want)
		}
	}
	if len(h.client.Actions()) != 0 {
		t.Errorf("usage errors reached the API: %v", h.client.Actions())
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	h := newHarness(t, webApp())
	h.mustRun(0, "list")
	if strings.Contains(h.out.String(), "\x1b[") {
		t.Errorf("colour without a terminal:\n%q", h.out)
	}
	h.color = true
	h.mustRun(0, "list")
	out := h.out.String()
	if !strings.Contains(out, ansiGreen+"Synced"+ansiReset) {
		t.Errorf("no colour with colours on:\n%q", out)
	}
	// Colour codes do not shift the columns.
	lines := strings.Split(strings.TrimSpace(stripANSI(out)), "\n")
	if len(lines) != 2 || strings.Index(lines[0], "HEALTH") != strings.Index(lines[1], "Healthy") {
		t.Errorf("columns misaligned with colours:\n%s", stripANSI(out))
	}
}

func stripANSI(s string) string {
	for _, c := range []string{ansiReset, ansiRed, ansiGreen, ansiYellow, ansiCyan, ansiBold} {
		s = strings.ReplaceAll(s, c, "")
	}
	return s
}

func TestFormatHelpers(t *testing.T) {
	if got := shortSHA(sha1); got != "3f2a9c1b7d4e" {
		t.Errorf("shortSHA = %q", got)
	}
	for _, rev := range []string{"main", "v1.2.0", "", "3f2a9c1"} {
		if got := shortSHA(rev); got != rev {
			t.Errorf("shortSHA(%q) = %q, want it unchanged", rev, got)
		}
	}
	if got := truncate("a  b\nc", 10); got != "a b c" {
		t.Errorf("truncate joins lines: %q", got)
	}
	if got := truncate("abcdefghij", 5); got != "abcd…" {
		t.Errorf("truncate = %q", got)
	}
	if got := shortID("b555911b-0618-48fd"); got != "b555911b" {
		t.Errorf("shortID = %q", got)
	}
	var b bytes.Buffer
	tb := &table{header: []string{"A", "LONGER"}, colored: map[int]bool{0: true}}
	tb.section("a section wider than any column")
	tb.add("Healthy", "x")
	tb.add("y", "")
	tb.write(&b, false)
	want := "A         LONGER\na section wider than any column\nHealthy   x\ny\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
}

// configMap is a ConfigMap as Ferry's diff and manifests see it.
func configMap(name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "web"},
		"data":     map[string]any{"value": value},
	}}
}

// unified is the diff Ferry's server sends for one object.
func unified(t *testing.T, live, desired *unstructured.Unstructured) string {
	t.Helper()
	d, err := ferrydiff.Unified(live, desired)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// diffReactor answers get applications/diff with d and counts the calls.
func diffReactor(h *harness, d *gitopsv1alpha1.ApplicationDiff, calls *int) {
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "diff" {
			return false, nil, nil
		}
		if a.(clienttesting.GetAction).GetName() != "web" || a.GetNamespace() != "team" {
			return true, nil, fmt.Errorf("unexpected %s of %s/%s", a.GetVerb(), a.GetNamespace(), a.(clienttesting.GetAction).GetName())
		}
		*calls++
		return true, d.DeepCopy(), nil
	})
}

func TestDiffInSync(t *testing.T) {
	h := newHarness(t, webApp())
	calls := 0
	diffReactor(h, &gitopsv1alpha1.ApplicationDiff{Revision: sha1, Summary: gitopsv1alpha1.DiffSummary{None: 2}, Items: []gitopsv1alpha1.ResourceDiff{
		{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Action: gitopsv1alpha1.DiffNone},
		{Version: "v1", Kind: "Service", Namespace: "web", Name: "web", Action: gitopsv1alpha1.DiffNone},
	}}, &calls)
	h.mustRun(0, "diff", "web")
	if want := "No differences: web is in sync with 3f2a9c1b7d4e (2 objects).\n"; h.out.String() != want || h.err.Len() != 0 {
		t.Errorf("diff in sync: stdout %q stderr %q, want %q", h.out, h.err, want)
	}
	h.mustRun(0, "diff", "web", "-o", "yaml")
	var d gitopsv1alpha1.ApplicationDiff
	if err := yaml.Unmarshal(h.out.Bytes(), &d); err != nil || d.Kind != "ApplicationDiff" || d.APIVersion != "gitops.ferry.dev/v1alpha1" || len(d.Items) != 2 {
		t.Errorf("diff -o yaml: %v\n%s", err, h.out)
	}
	if calls != 2 {
		t.Errorf("diff reached the server %d times, want 2", calls)
	}
}

// changedDiff is a diff with one object of each action.
func changedDiff(t *testing.T) *gitopsv1alpha1.ApplicationDiff {
	return &gitopsv1alpha1.ApplicationDiff{
		Revision: sha1,
		Summary:  gitopsv1alpha1.DiffSummary{Create: 1, Update: 1, Delete: 1, None: 2},
		Items: []gitopsv1alpha1.ResourceDiff{
			{Version: "v1", Kind: "Service", Namespace: "web", Name: "web", Action: gitopsv1alpha1.DiffNone},
			{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Action: gitopsv1alpha1.DiffUpdate,
				Diff: unified(t, configMap("web-settings", "v1"), configMap("web-settings", "v2"))},
			{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-new", Action: gitopsv1alpha1.DiffCreate,
				Diff: unified(t, nil, configMap("web-new", "new"))},
			{Version: "v1", Kind: "Namespace", Name: "web", Action: gitopsv1alpha1.DiffNone},
			{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "old", Action: gitopsv1alpha1.DiffDelete,
				Diff: unified(t, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{"name": "old", "namespace": "web"}}}, nil)},
		},
	}
}

// changedDiffOutput is what diff prints for changedDiff. The lone " " lines are the empty context
// line the server's diff of a created or deleted object ends with.
const changedDiffOutput = `~ Update v1 ConfigMap web/web-settings
--- live
+++ desired
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  value: v1
+  value: v2
 kind: ConfigMap
 metadata:
   name: web-settings

+ Create v1 ConfigMap web/web-new
--- live
+++ desired
@@ -0,0 +1,7 @@
+apiVersion: v1
+data:
+  value: new
+kind: ConfigMap
+metadata:
+  name: web-new
+  namespace: web

- Delete apps/v1 Deployment web/old
--- live
+++ desired
@@ -1,5 +0,0 @@
-apiVersion: apps/v1
-kind: Deployment
-metadata:
-  name: old
-  namespace: web

1 to create, 1 to update, 1 to delete, 2 unchanged (revision 3f2a9c1b7d4e)
`

func TestDiffWithChanges(t *testing.T) {
	h := newHarness(t, webApp())
	calls := 0
	diffReactor(h, changedDiff(t), &calls)
	h.mustRun(1, "diff", "web")
	if h.out.String() != changedDiffOutput {
		t.Errorf("diff:\n%s\nwant:\n%s", h.out, changedDiffOutput)
	}
	if h.err.Len() != 0 {
		t.Errorf("diff with differences wrote to stderr: %q", h.err)
	}
	if strings.Contains(h.out.String(), "\x1b[") {
		t.Errorf("colour without a terminal:\n%q", h.out)
	}

	h.mustRun(1, "diff", "web", "-o", "json")
	var d gitopsv1alpha1.ApplicationDiff
	if err := json.Unmarshal(h.out.Bytes(), &d); err != nil || d.Kind != "ApplicationDiff" || d.Summary.Update != 1 || len(d.Items) != 5 || d.Items[1].Diff == "" {
		t.Errorf("diff -o json: %v\n%s", err, h.out)
	}
	if h.err.Len() != 0 {
		t.Errorf("diff -o json with differences wrote to stderr: %q", h.err)
	}
}

func TestDiffColors(t *testing.T) {
	h := newHarness(t, webApp())
	calls := 0
	diffReactor(h, changedDiff(t), &calls)
	h.color = true
	h.mustRun(1, "diff", "web")
	out := h.out.String()
	for _, want := range []string{
		ansiBold + "~ Update v1 ConfigMap web/web-settings" + ansiReset + "\n",
		ansiBold + "--- live" + ansiReset + "\n" + ansiBold + "+++ desired" + ansiReset + "\n",
		ansiCyan + "@@ -1,6 +1,6 @@" + ansiReset + "\n apiVersion: v1\n",
		ansiRed + "-  value: v1" + ansiReset + "\n" + ansiGreen + "+  value: v2" + ansiReset + "\n",
		ansiBold + "- Delete apps/v1 Deployment web/old" + ansiReset + "\n",
		ansiRed + "-  name: old" + ansiReset + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("coloured diff lacks %q:\n%q", want, out)
		}
	}
	if stripANSI(out) != changedDiffOutput {
		t.Errorf("colours change the text:\n%s", stripANSI(out))
	}
}

// TestDiffAndManifestsRefused checks the errors name the subresource's permission and role.
func TestDiffAndManifestsRefused(t *testing.T) {
	for _, sub := range []string{"diff", "manifests"} {
		h := newHarness(t, webApp())
		h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != sub {
				return false, nil, nil
			}
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications/" + sub}, "web",
				errString(`User "nobody" cannot get resource "applications/`+sub+`"`))
		})
		h.mustRun(2, sub, "web", "--revision", "main")
		for _, want := range []string{"error: Forbidden: ", `"get applications/` + sub + `" in namespace team`, "the ferry-view ClusterRole",
			"kubectl auth can-i get applications.gitops.ferry.dev --subresource=" + sub + " -n team"} {
			if !strings.Contains(h.err.String(), want) {
				t.Errorf("%s forbidden: stderr lacks %q:\n%s", sub, want, h.err)
			}
		}
		if h.out.Len() != 0 {
			t.Errorf("%s forbidden printed to stdout: %q", sub, h.out)
		}
	}
}

func TestDiffUnknownRevision(t *testing.T) {
	h := newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "diff" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "revisions"},
			`branch or tag "v9": revision not found in https://git.example.com/org/repo.git`)
	})
	h.mustRun(2, "diff", "web", "--revision", "v9")
	want := "error: branch or tag \"v9\": revision not found in https://git.example.com/org/repo.git\n" +
		"--revision takes a branch, a tag or a full 40-character commit SHA of the Application's repository.\n"
	if h.err.String() != want {
		t.Errorf("diff of an unknown revision: stderr\n%s\nwant\n%s", h.err, want)
	}
}

// manifestObjects are the objects of TestManifests, as the server sends them (JSON).
func manifestObjects(t *testing.T) []map[string]any {
	return []map[string]any{
		configMap("web-settings", "v2").Object,
		{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "web"},
			"stringData": map[string]any{"password": "<masked>"}},
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "web",
			"labels": map[string]any{"app": "web"}}, "spec": map[string]any{"replicas": float64(2)}},
	}
}

func TestManifests(t *testing.T) {
	h := newHarness(t, webApp())
	m := &gitopsv1alpha1.ApplicationManifests{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"}, Revision: sha1}
	objects := manifestObjects(t)
	for _, o := range objects {
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		m.Objects = append(m.Objects, runtime.RawExtension{Raw: raw})
	}
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "manifests" {
			return false, nil, nil
		}
		return true, m.DeepCopy(), nil
	})

	h.mustRun(0, "manifests", "web")
	out := h.out.String()
	if !strings.HasPrefix(out, "# revision "+sha1+"\n"+maskedNote+"\napiVersion: v1\n") {
		t.Errorf("manifests should start with the revision, the masking note, then the first object:\n%s", out)
	}
	if !strings.Contains(out, "\n---\napiVersion: v1\nkind: Secret\n") || !strings.Contains(out, "password: <masked>") {
		t.Errorf("manifests: documents should be separated by ---:\n%s", out)
	}
	// The stream parses back to the objects.
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	var got []map[string]any
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("manifests output is not a YAML stream: %v\n%s", err, out)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("document %d: %v\n%s", len(got)+1, err, doc)
		}
		if obj != nil {
			got = append(got, obj)
		}
	}
	if !reflect.DeepEqual(got, objects) {
		t.Errorf("manifests parse back to\n%v\nwant\n%v", got, objects)
	}

	h.mustRun(0, "manifests", "web", "-o", "json")
	var back gitopsv1alpha1.ApplicationManifests
	if err := json.Unmarshal(h.out.Bytes(), &back); err != nil || back.Kind != "ApplicationManifests" || back.Revision != sha1 || len(back.Objects) != 3 {
		t.Errorf("manifests -o json: %v\n%s", err, h.out)
	}
	h.mustRun(0, "manifests", "web", "-o", "yaml")
	back = gitopsv1alpha1.ApplicationManifests{}
	if err := yaml.Unmarshal(h.out.Bytes(), &back); err != nil || back.Kind != "ApplicationManifests" || len(back.Objects) != 3 {
		t.Errorf("manifests -o yaml: %v\n%s", err, h.out)
	}

	// Without a Secret there is no masking note; without objects stderr says so.
	m.Objects = m.Objects[:1]
	h.mustRun(0, "manifests", "web")
	if want := "# revision " + sha1 + "\napiVersion: v1\ndata:\n  value: v2\nkind: ConfigMap\nmetadata:\n  name: web-settings\n  namespace: web\n"; h.out.String() != want {
		t.Errorf("manifests of one ConfigMap:\n%s\nwant:\n%s", h.out, want)
	}
	m.Objects = nil
	h.mustRun(0, "manifests", "web")
	if h.out.String() != "# revision "+sha1+"\n" || h.err.String() != "Application web in namespace team renders no objects at 3f2a9c1b7d4e.\n" {
		t.Errorf("manifests of nothing: stdout %q stderr %q", h.out, h.err)
	}
}

// TestRevisionReachesTheServer runs diff and manifests through the real typed clientset against
// an HTTP server, to see --revision arrive as ?revision= (the fake clientset's actions do not
// carry the options).
func TestRevisionReachesTheServer(t *testing.T) {
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		switch path.Base(r.URL.Path) {
		case "diff":
			fmt.Fprintf(w, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationDiff","revision":%q,"items":[{"version":"v1","kind":"ConfigMap","name":"a","action":"None"}]}`, sha1)
		case "manifests":
			fmt.Fprintf(w, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationManifests","revision":%q,"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}]}`, sha1)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client, err := versioned.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.clientset = client

	h.mustRun(0, "diff", "web", "--revision", "release/v1.2 & more")
	h.mustRun(0, "diff", "web")
	h.mustRun(0, "manifests", "web", "--revision", sha1)
	if !strings.HasPrefix(h.out.String(), "# revision "+sha1+"\napiVersion: v1\nkind: ConfigMap\n") {
		t.Errorf("manifests through the clientset:\n%s", h.out)
	}
	h.mustRun(0, "manifests", "web", "-n", "other")
	base := "GET /apis/gitops.ferry.dev/v1alpha1/namespaces/"
	want := []string{
		base + "team/applications/web/diff?revision=release%2Fv1.2+%26+more",
		base + "team/applications/web/diff?",
		base + "team/applications/web/manifests?revision=" + sha1,
		base + "other/applications/web/manifests?",
	}
	if !reflect.DeepEqual(requests, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(requests, "\n"), strings.Join(want, "\n"))
	}
}

// TestAppSetStatusShowsEachGeneratedApplication: the set's identity, generators, policy, why it is
// not Ready, and each Application with its cluster, sync and health.
func TestAppSetStatusShowsEachGeneratedApplication(t *testing.T) {
	set := &gitopsv1alpha1.ApplicationSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "guestbook", CreationTimestamp: minutesAgo(90)},
		Spec: gitopsv1alpha1.ApplicationSetSpec{
			ServiceAccountName: "deployer",
			Generators: []gitopsv1alpha1.ApplicationSetGenerator{{Clusters: &gitopsv1alpha1.ClusterGenerator{
				Selector: metav1.LabelSelector{MatchLabels: map[string]string{"fleet": "eu"}}}}},
			SyncPolicy: gitopsv1alpha1.ApplicationSetSyncPolicy{ApplicationsSync: gitopsv1alpha1.ApplicationsSyncCreateUpdate},
		},
		Status: gitopsv1alpha1.ApplicationSetStatus{
			Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "Forbidden",
				Message: "Application guestbook-qa not generated: spec.destination.cluster: serviceaccount team/deployer may not use cluster qa"}},
			Applications: []gitopsv1alpha1.ApplicationSetApplicationStatus{
				{Name: "guestbook-staging", Cluster: "staging", Sync: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthHealthy},
				{Name: "guestbook-prod", Cluster: "prod", Sync: gitopsv1alpha1.SyncStatusOutOfSync, Health: gitopsv1alpha1.HealthProgressing},
			},
		},
	}
	h := newHarness(t, set)
	if code := h.run("appset", "status", "guestbook"); code != 0 {
		t.Fatalf("exit %d: %s", code, h.err)
	}
	out := strings.Join(strings.Fields(h.out.String()), " ")
	for _, want := range []string{"Acts as: deployer", "Generators: clusters fleet=eu", "Sync policy: create-update", "Ready: False Application guestbook-qa not generated",
		"guestbook-prod prod OutOfSync Progressing guestbook-staging staging Synced Healthy"} {
		if !strings.Contains(out, want) {
			t.Errorf("appset status lacks %q:\n%s", want, out)
		}
	}
	if code := h.run("appset", "list"); code != 0 || !strings.Contains(strings.Join(strings.Fields(h.out.String()), " "), "guestbook 2 1/2 1/2 False 90m") {
		t.Errorf("appset list (exit %d):\n%s%s", code, h.out, h.err)
	}
	if code := h.run("appset", "status", "nope"); code != ExitCodeError || !strings.Contains(h.err.String(), "no ApplicationSet nope in namespace team") {
		t.Errorf("a missing set (exit %d): %s", code, h.err)
	}
}

// TestVersion: kubectl ferry version names the binary and the Go toolchain, and -o json is the
// same information as an object.
func TestVersion(t *testing.T) {
	h := newHarness(t)
	h.mustRun(0, "version")
	if out := h.out.String(); !strings.HasPrefix(out, "kubectl-ferry ") || !strings.Contains(out, goruntime.Version()) {
		t.Errorf("kubectl ferry version printed %q", out)
	}
	h.mustRun(0, "version", "-o", "json")
	var info struct{ Version, GoVersion, Platform string }
	if err := json.Unmarshal(h.out.Bytes(), &info); err != nil || info.Version == "" || info.GoVersion != goruntime.Version() || info.Platform != goruntime.GOOS+"/"+goruntime.GOARCH {
		t.Errorf("kubectl ferry version -o json printed %s (%v)", h.out, err)
	}
	h.mustRun(2, "version", "extra")
}

// TestStatusOfSeveralSources: each source of spec.sources gets a line with what its revision
// resolved to and its ref, and the applied revision shortens each commit of the set.
func TestStatusOfSeveralSources(t *testing.T) {
	app := webApp()
	app.Spec.Source = gitopsv1alpha1.ApplicationSource{Revision: "HEAD"}
	app.Spec.Sources = []gitopsv1alpha1.ApplicationSource{
		{RepoURL: "https://charts.example.com", Chart: "web", Revision: "~0.3"},
		{RepoURL: "https://git.example.com/org/config.git", Revision: "main", Ref: "values", Path: "extra"},
	}
	app.Status.SourceRevision = "0.3.1 " + sha1
	app.Status.SourceRevisions = []string{"0.3.1", sha1}
	app.Status.Sync.Revision = app.Status.SourceRevision
	h := newHarness(t, app)
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "health" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationHealth{Status: "Healthy"}, nil
	})
	h.mustRun(0, "status", "web")
	out := normalizeSpace(h.out.String())
	for _, want := range []string{
		"Source 0: https://charts.example.com chart web at ~0.3 → 0.3.1",
		"Source 1: https://git.example.com/org/config.git path extra at main → " + sha1[:12] + " (ref values)",
		"(applied 0.3.1 " + sha1[:12] + ")",
	} {
		if !strings.Contains(out, normalizeSpace(want)) {
			t.Errorf("status lacks %q:\n%s", want, h.out)
		}
	}
	if strings.Contains(out, "Path:") {
		t.Errorf("status shows spec.source's Path beside spec.sources:\n%s", h.out)
	}
}

// TestInstallRefusesAPlaintextEtcd: kubectl ferry install --etcd-servers=http://... is refused
// before anything is made or applied, with the flag named and what to give instead.
func TestInstallRefusesAPlaintextEtcd(t *testing.T) {
	for _, args := range [][]string{
		{"install", "--version", "v1", "--etcd-servers", "http://etcd-0.etcd:2379"},
		{"install", "--version", "v1", "--export", "--etcd-servers", "https://etcd-0.etcd:2379,http://etcd-1.etcd:2379"},
	} {
		h := newHarness(t)
		if code := h.run(args...); code != ExitCodeError {
			t.Errorf("kubectl ferry %s: exit %d, want %d", strings.Join(args, " "), code, ExitCodeError)
		}
		for _, want := range []string{"--etcd-servers", "is plaintext", "https://", "--etcd-ca-file", "--etcd-cert-file", "--etcd-key-file"} {
			if !strings.Contains(h.err.String(), want) {
				t.Errorf("kubectl ferry %s: stderr %q does not say %q", strings.Join(args, " "), h.err, want)
			}
		}
		if h.out.Len() > 0 {
			t.Errorf("kubectl ferry %s printed manifests or steps for a plaintext etcd:\n%s", strings.Join(args, " "), h.out)
		}
	}
}
