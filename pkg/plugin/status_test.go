package plugin

import (
	"encoding/json"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

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

// TestStatusShowsTheSyncWindowInForce: an Application a SyncWindow holds shows the window and
// when it ends on a line of its own; one no window selects has no such line.
func TestStatusShowsTheSyncWindowInForce(t *testing.T) {
	app := webApp()
	app.Status.Conditions = append(app.Status.Conditions, metav1.Condition{
		Type: gitopsv1alpha1.ConditionSyncWindow, Status: metav1.ConditionTrue, Reason: gitopsv1alpha1.ReasonDenyWindow,
		Message: "deny window team/freeze is in force until 2026-03-04T13:00:00Z: automated syncs wait, and a commit pushed meanwhile is applied when it ends",
	})
	healthy := func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "health" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationHealth{Status: "Healthy"}, nil
	}
	h := newHarness(t, app)
	h.client.PrependReactor("get", "applications", healthy)
	h.mustRun(0, "status", "web")
	if want := "Sync window:  blocked: deny window team/freeze is in force until 2026-03-04T13:00:00Z"; !strings.Contains(h.out.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, h.out)
	}

	h = newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", healthy)
	h.mustRun(0, "status", "web")
	if strings.Contains(h.out.String(), "Sync window:") {
		t.Errorf("status of an Application no window selects shows a sync window:\n%s", h.out)
	}
}
