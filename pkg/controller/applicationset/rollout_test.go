package applicationset

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// stagedSet rolls out to the Applications labelled env=staging, then to env=production.
func stagedSet(prodMax *intstr.IntOrString) *gitopsv1alpha1.ApplicationSet {
	set := listSet(nil)
	set.Spec.Strategy = &gitopsv1alpha1.ApplicationSetStrategy{RollingSync: &gitopsv1alpha1.RollingSyncStrategy{Steps: []gitopsv1alpha1.RollingSyncStep{
		{Name: "staging", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "staging"}}},
		{Name: "production", Selector: metav1.LabelSelector{MatchLabels: map[string]string{"env": "production"}}, MaxUpdate: prodMax},
	}}}
	return set
}

// wanted is an Application as the set's template makes it now, at path.
func wanted(name, env, path string) *gitopsv1alpha1.Application {
	app := generatedApp(name, path)
	app.Labels["env"] = env
	return app
}

// stored is what is stored of an Application the set made at path, with its controller's word
// on it: sync and health observed at its generation.
func stored(name, env, path string, sync gitopsv1alpha1.SyncStatusCode, health gitopsv1alpha1.HealthStatusCode) *gitopsv1alpha1.Application {
	app := wanted(name, env, path)
	app.Generation = 2
	app.Status.ObservedGeneration = 2
	app.Status.Sync.Status, app.Status.Health.Status = sync, health
	return app
}

func byName(apps ...*gitopsv1alpha1.Application) map[string]*gitopsv1alpha1.Application {
	out := map[string]*gitopsv1alpha1.Application{}
	for _, a := range apps {
		out[a.Name] = a
	}
	return out
}

func held(r rollout) string {
	var out []string
	for n := range r.hold {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func phases(r rollout) string {
	var out []string
	for _, st := range r.steps {
		out = append(out, fmt.Sprintf("%s=%s %d/%d/%d", st.Name, st.Phase, st.Ready, st.Updated, st.Applications))
	}
	return strings.Join(out, " ")
}

func TestRolloutReachesTheNextStepOnlyWhenTheStepIsSyncedAndHealthy(t *testing.T) {
	v2 := []*gitopsv1alpha1.Application{
		wanted("stg", "staging", "v2"), wanted("prod-eu", "production", "v2"), wanted("prod-us", "production", "v2"),
	}
	for _, tc := range []struct {
		name       string
		owned      map[string]*gitopsv1alpha1.Application
		wantHeld   string
		wantPhases string
		wantReason string
		wantMsg    string
	}{{
		name:       "a new set makes only the first step's Applications",
		wantHeld:   "prod-eu,prod-us",
		wantPhases: "staging=Progressing 0/0/1 production=Waiting 0/0/2",
		wantReason: ReasonRolloutProgressing, wantMsg: "step 1 of 2 (staging): waiting for Application stg to be Synced and Healthy",
	}, {
		name: "staging updated but still progressing holds production at v1",
		owned: byName(stored("stg", "staging", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthProgressing),
			stored("prod-eu", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-us", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)),
		wantHeld:   "prod-eu,prod-us",
		wantPhases: "staging=Progressing 0/1/1 production=Waiting 0/0/2",
		wantReason: ReasonRolloutProgressing,
	}, {
		name: "a template change starts again at the first step",
		owned: byName(stored("stg", "staging", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-eu", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-us", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)),
		wantHeld:   "prod-eu,prod-us",
		wantPhases: "staging=Progressing 0/0/1 production=Waiting 0/0/2",
		wantReason: ReasonRolloutProgressing,
	}, {
		name: "staging Synced and Healthy at v2 lets production go",
		owned: byName(stored("stg", "staging", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-eu", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-us", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)),
		wantHeld:   "",
		wantPhases: "staging=Complete 1/1/1 production=Progressing 0/0/2",
		wantReason: ReasonRolloutProgressing, wantMsg: "step 2 of 2 (production): waiting for Applications prod-eu, prod-us",
	}, {
		name: "status not yet observed at the new generation is not ready",
		owned: byName(func() *gitopsv1alpha1.Application {
			a := stored("stg", "staging", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)
			a.Generation = 3 // the spec changed; the status still speaks of generation 2
			return a
		}()),
		wantHeld:   "prod-eu,prod-us",
		wantPhases: "staging=Progressing 0/1/1 production=Waiting 0/0/2",
		wantReason: ReasonRolloutProgressing,
	}, {
		name: "a Degraded staging Application stops the rollout and is named",
		owned: byName(stored("stg", "staging", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthDegraded),
			stored("prod-eu", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-us", "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)),
		wantHeld:   "prod-eu,prod-us",
		wantPhases: "staging=Degraded 0/1/1 production=Waiting 0/0/2",
		wantReason: ReasonRolloutDegraded, wantMsg: "step 1 of 2 (staging): Application stg Degraded",
	}, {
		name: "every step done is Complete",
		owned: byName(stored("stg", "staging", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-eu", "production", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
			stored("prod-us", "production", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)),
		wantPhases: "staging=Complete 1/1/1 production=Complete 2/2/2",
		wantReason: ReasonRolloutComplete,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			owned := tc.owned
			if owned == nil {
				owned = map[string]*gitopsv1alpha1.Application{}
			}
			r, err := planRollout(stagedSet(nil), v2, owned)
			if err != nil {
				t.Fatal(err)
			}
			if got := held(r); got != tc.wantHeld {
				t.Errorf("held back: %q, want %q", got, tc.wantHeld)
			}
			if got := phases(r); got != tc.wantPhases {
				t.Errorf("steps: %s\nwant:  %s", got, tc.wantPhases)
			}
			if r.cond.Reason != tc.wantReason || !strings.Contains(r.cond.Message, tc.wantMsg) {
				t.Errorf("condition %s %q, want %s containing %q", r.cond.Reason, r.cond.Message, tc.wantReason, tc.wantMsg)
			}
			if want := tc.wantReason == ReasonRolloutComplete; (r.cond.Status == metav1.ConditionTrue) != want {
				t.Errorf("RolledOut %s, want True only when complete", r.cond.Status)
			}
		})
	}
}

func TestMaxUpdateBoundsHowManyOfAStepAreInFlight(t *testing.T) {
	var want []*gitopsv1alpha1.Application
	old := map[string]*gitopsv1alpha1.Application{
		"stg": stored("stg", "staging", "v2", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy),
	}
	want = append(want, wanted("stg", "staging", "v2"))
	for _, n := range []string{"p1", "p2", "p3", "p4"} {
		want = append(want, wanted(n, "production", "v2"))
		old[n] = stored(n, "production", "v1", gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy)
	}
	one := intstr.FromInt32(1)
	half := intstr.FromString("50%")
	tenth := intstr.FromString("10%")
	zero := intstr.FromInt32(0)
	for _, tc := range []struct {
		name      string
		max       *intstr.IntOrString
		progress  map[string]gitopsv1alpha1.HealthStatusCode // production Applications already at v2
		wantHeld  string
		wantPhase gitopsv1alpha1.RolloutStepPhase
	}{
		{"one at a time starts with the first", &one, nil, "p2,p3,p4", gitopsv1alpha1.RolloutStepProgressing},
		{"one at a time waits while it progresses", &one, map[string]gitopsv1alpha1.HealthStatusCode{"p1": gitopsv1alpha1.HealthProgressing}, "p2,p3,p4", gitopsv1alpha1.RolloutStepProgressing},
		{"one at a time takes the next once it is Healthy", &one, map[string]gitopsv1alpha1.HealthStatusCode{"p1": gitopsv1alpha1.HealthHealthy}, "p3,p4", gitopsv1alpha1.RolloutStepProgressing},
		{"half of four is two", &half, nil, "p3,p4", gitopsv1alpha1.RolloutStepProgressing},
		{"ten percent of four is still one", &tenth, nil, "p2,p3,p4", gitopsv1alpha1.RolloutStepProgressing},
		{"zero pauses before the step", &zero, nil, "p1,p2,p3,p4", gitopsv1alpha1.RolloutStepPaused},
		{"a Degraded one stops the rest of its step", &half, map[string]gitopsv1alpha1.HealthStatusCode{"p1": gitopsv1alpha1.HealthDegraded}, "p2,p3,p4", gitopsv1alpha1.RolloutStepDegraded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owned := map[string]*gitopsv1alpha1.Application{}
			for n, a := range old {
				owned[n] = a
			}
			for n, h := range tc.progress {
				owned[n] = stored(n, "production", "v2", gitopsv1alpha1.SyncStatusSynced, h)
			}
			r, err := planRollout(stagedSet(tc.max), want, owned)
			if err != nil {
				t.Fatal(err)
			}
			if got := held(r); got != tc.wantHeld {
				t.Errorf("held back: %q, want %q", got, tc.wantHeld)
			}
			if got := r.steps[1].Phase; got != tc.wantPhase {
				t.Errorf("production step %s (%s), want %s", got, r.steps[1].Message, tc.wantPhase)
			}
		})
	}
}

func TestApplicationsNoStepSelectsGoLast(t *testing.T) {
	want := []*gitopsv1alpha1.Application{wanted("stg", "staging", "v2"), wanted("dev", "dev", "v2")}
	r, err := planRollout(stagedSet(nil), want, map[string]*gitopsv1alpha1.Application{})
	if err != nil {
		t.Fatal(err)
	}
	if held(r) != "dev" || r.stepOf["dev"] != unmatchedStep {
		t.Errorf("held %q, dev's step %q: want dev held in step %q", held(r), r.stepOf["dev"], unmatchedStep)
	}
	if got := phases(r); got != "staging=Progressing 0/0/1 production=Waiting 0/0/0 unmatched=Waiting 0/0/1" {
		t.Errorf("steps: %s", got)
	}
}

// TestARollingSyncNamesCommitsAndHoldsLaterStepsAtTheirs: through the controller and a fake API,
// a set rolling out to staging then production creates staging first, with its branch named by
// its commit; production is made once staging is Synced and Healthy; a new commit of the branch
// reaches staging and leaves production at the commit it has.
func TestARollingSyncNamesCommitsAndHoldsLaterStepsAtTheirs(t *testing.T) {
	set := stagedSet(nil)
	set.Spec.Generators[0].List.Elements = elements(`{"name":"stg","env":"staging"}`, `{"name":"prod","env":"production"}`)
	set.Spec.Template.Spec.Source.Revision = "main"
	f := newFixture(t, nil, set)
	head := strings.Repeat("a", 40)
	f.ctrl.resolve = func(_ context.Context, namespace string, src engine.SourceAt) (string, error) {
		if namespace != ns || src.RepoURL != "https://git.example/apps.git" || src.Revision != "main" {
			return "", fmt.Errorf("resolving %s %s@%s", namespace, src.RepoURL, src.Revision)
		}
		return head, nil
	}

	f.sync()
	if names := f.appNames(); strings.Join(names, ",") != "stg" {
		t.Fatalf("after the first generation: %v, want only stg", names)
	}
	if stg := f.apps()["stg"]; stg.Spec.Source.Revision != head || stg.Annotations[gitopsv1alpha1.TrackedRevisionAnnotation] != "main" {
		t.Errorf("staging's revision %q, annotations %v: want the commit of main %s, tracking main", stg.Spec.Source.Revision, stg.Annotations, head)
	}
	f.report("stg", gitopsv1alpha1.HealthHealthy)
	f.sync()
	if rev := f.apps()["prod"]; rev == nil || rev.Spec.Source.Revision != head {
		t.Fatalf("production after staging is Healthy: %+v", rev)
	}
	f.report("prod", gitopsv1alpha1.HealthHealthy)
	f.sync()
	if c := f.condition(ConditionRolledOut); c.Status != metav1.ConditionTrue {
		t.Errorf("RolledOut after both steps: %+v", c)
	}

	first := head
	head = strings.Repeat("b", 40) // a new commit on main
	f.sync()
	apps := f.apps()
	if apps["stg"].Spec.Source.Revision != head || apps["prod"].Spec.Source.Revision != first {
		t.Errorf("after a new commit: staging at %s, production at %s; want staging at the new commit, production at the old",
			apps["stg"].Spec.Source.Revision, apps["prod"].Spec.Source.Revision)
	}
	stored, _ := f.ferry.GitopsV1alpha1().ApplicationSets(ns).Get(t.Context(), setName, metav1.GetOptions{})
	if len(stored.Status.Steps) != 2 || stored.Status.Steps[0].Phase != gitopsv1alpha1.RolloutStepProgressing || stored.Status.Steps[1].Phase != gitopsv1alpha1.RolloutStepWaiting {
		t.Errorf("status.steps after the new commit: %+v", stored.Status.Steps)
	}
	for _, a := range stored.Status.Applications {
		if want := map[string]string{"stg": "staging", "prod": "production"}[a.Name]; a.Step != want {
			t.Errorf("status.applications %s in step %q, want %q", a.Name, a.Step, want)
		}
	}
}

// report stores what an Application's controller says of it at its generation (Synced, with
// health), and waits until the set's controller sees it.
func (f *fixture) report(name string, health gitopsv1alpha1.HealthStatusCode) {
	f.t.Helper()
	ctx := f.t.Context()
	app, err := f.ferry.GitopsV1alpha1().Applications(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	app.Status.ObservedGeneration = app.Generation
	app.Status.Sync.Status, app.Status.Health.Status = gitopsv1alpha1.SyncStatusSynced, health
	if _, err := f.ferry.GitopsV1alpha1().Applications(ns).UpdateStatus(ctx, app, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	eventually.Until(f.t, 10*time.Second, 10*time.Millisecond, "the controller's cache sees "+name+" "+string(health), func() (bool, string) {
		cached, err := f.ctrl.apps.Applications(ns).Get(name)
		if err != nil {
			return false, err.Error()
		}
		return cached.Status.Health.Status == health, string(cached.Status.Health.Status)
	})
}

// condition is one condition of the set as stored.
func (f *fixture) condition(typ string) metav1.Condition {
	f.t.Helper()
	set, err := f.ferry.GitopsV1alpha1().ApplicationSets(ns).Get(f.t.Context(), setName, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	c := meta.FindStatusCondition(set.Status.Conditions, typ)
	if c == nil {
		f.t.Fatalf("the set has no %s condition; status: %+v", typ, set.Status)
	}
	return *c
}
