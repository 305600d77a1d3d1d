package application

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// hookJob is a Job hook; extra goes into its annotations, podLabels into its Pod template's.
func hookJob(meta, extra, podLabels string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  %s
  annotations: {%s}
spec:
  backoffLimit: 0
  template:
    metadata: {labels: {%s}}
    spec:
      restartPolicy: Never
      containers: [{name: hook, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`, meta, extra, podLabels)
}

// jobs lists the Jobs of the fixture's namespace whose names start with prefix.
func (f *fixture) jobs(prefix string) []string {
	f.t.Helper()
	list, err := f.kube.BatchV1().Jobs(f.dest).List(f.t.Context(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, j := range list.Items {
		if strings.HasPrefix(j.Name, prefix) {
			names = append(names, j.Name)
		}
	}
	slices.Sort(names)
	return names
}

func stepsOf(app *gitopsv1alpha1.Application) string {
	var out []string
	for _, s := range app.Status.Operation.Steps {
		name := fmt.Sprintf("wave %d", s.Wave)
		if s.Type == gitopsv1alpha1.OperationStepHook {
			n := s.Name
			if i := strings.LastIndex(n, "-"); i >= 0 && len(n)-i-1 == 5 {
				n = n[:i+1] // the server's random suffix of a generateName
			}
			name = s.Hook + " " + s.Kind + "/" + n
		}
		out = append(out, name+" "+string(s.Phase))
	}
	return strings.Join(out, ", ")
}

// TestHooksRunAroundTheSync: a PreSync Job (generateName, Argo CD's annotation) completes before
// any other object exists; the PostSync Job starts only once the Deployment is Available; hooks
// are not in the inventory, keep the Application Synced, and are never pruned; the next sync runs
// a new PreSync Job and replaces the named PostSync Job (BeforeHookCreation).
func TestHooksRunAroundTheSync(t *testing.T) {
	f := newFixture(t)
	h := f.watchHistory(f.dest)
	sha := f.commit(map[string]string{
		"migrate.yaml":    hookJob("generateName: migrate-", `argocd.argoproj.io/hook: PreSync`, "app: migrate"),
		"smoke.yaml":      hookJob("name: smoke", `gitops.ferry.dev/hook: PostSync`, "app: smoke"),
		"schema.yaml":     configMap("schema", "v1"),
		"deployment.yaml": wavedDeployment,
	})
	f.create("shop", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = nil
	})
	f.waitCompared("shop")
	f.requestSync("shop", "first", gitopsv1alpha1.ApplicationSyncSpec{Prune: true})
	app := f.waitFor("shop", "the sync with hooks finished", operationDone("first", gitopsv1alpha1.OperationSucceeded))
	if got, want := stepsOf(app), "PreSync Job/migrate- Succeeded, wave 0 Succeeded, PostSync Job/smoke Succeeded"; got != want {
		t.Errorf("steps: %s, want %s", got, want)
	}
	f.waitFor("shop", "Synced", synced(sha))
	for _, r := range f.get("shop").Status.Resources {
		if r.Kind == "Job" {
			t.Errorf("a hook is in the inventory: %+v", r)
		}
	}

	migrations := f.jobs("migrate-")
	if len(migrations) != 1 {
		t.Fatalf("PreSync Jobs: %v, want one", migrations)
	}
	migrated := f.waitSeen(h, "Job", migrations[0], "ready")
	schema := f.waitSeen(h, "ConfigMap", "schema", "created")
	web := f.waitSeen(h, "Deployment", "web", "created")
	available := f.waitSeen(h, "Deployment", "web", "ready")
	smoke := f.waitSeen(h, "Job", "smoke", "created")
	if inOrder := migrated < schema && migrated < web && available < smoke; !inOrder {
		t.Errorf("hooks out of order (PreSync complete before anything, PostSync after the Deployment is Available):%s", h)
	}
	firstSmoke, err := f.kube.BatchV1().Jobs(f.dest).Get(t.Context(), "smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// The next sync (with prune) runs the hooks again and prunes none of them.
	f.requestSync("shop", "second", gitopsv1alpha1.ApplicationSyncSpec{Prune: true})
	f.waitFor("shop", "the second sync finished", operationDone("second", gitopsv1alpha1.OperationSucceeded))
	if got := f.jobs("migrate-"); len(got) != 2 {
		t.Errorf("PreSync Jobs after two syncs: %v, want two (a new Job per sync, none pruned)", got)
	}
	secondSmoke, err := f.kube.BatchV1().Jobs(f.dest).Get(t.Context(), "smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the PostSync Job is gone after the second sync: %v", err)
	}
	if secondSmoke.UID == firstSmoke.UID {
		t.Error("the named PostSync Job was not replaced by a new run")
	}
}

// TestAFailedPreSyncHookAppliesNothingAndRunsSyncFail: the PreSync Job fails, so nothing else is
// applied; the SyncFail hook runs; the operation fails naming the hook, with reason HookFailed;
// the automated policy does not run the failed hook again at the same commit by itself.
func TestAFailedPreSyncHookAppliesNothingAndRunsSyncFail(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{
		"migrate.yaml": hookJob("name: migrate", `gitops.ferry.dev/hook: PreSync`, fmt.Sprintf("%s: %q", localstack.FailLabel, "true")),
		"notify.yaml":  hookJob("name: notify", `gitops.ferry.dev/hook: SyncFail, gitops.ferry.dev/hook-delete-policy: HookFailed`, "app: notify"),
		"schema.yaml":  configMap("schema", "v1"),
	})
	f.create("shop", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = nil
	})
	f.waitCompared("shop")
	f.requestSync("shop", "fails", gitopsv1alpha1.ApplicationSyncSpec{})
	app := f.waitFor("shop", "the sync failed", operationDone("fails", gitopsv1alpha1.OperationFailed))
	if msg := app.Status.Operation.Message; !strings.Contains(msg, "PreSync hook Job/migrate") || !strings.Contains(msg, "failed") {
		t.Errorf("operation message %q does not name the failed PreSync hook", msg)
	}
	if got, want := stepsOf(app), "PreSync Job/migrate Failed, wave 0 Pending, SyncFail Job/notify Succeeded"; got != want {
		t.Errorf("steps: %s, want %s", got, want)
	}
	if _, ok := f.liveValue("schema"); ok {
		t.Error("an object was applied although the PreSync hook failed")
	}
	if got := f.jobs("notify"); len(got) != 1 {
		t.Errorf("the SyncFail Job: %v, want it to have run (and be kept: it succeeded)", got)
	}

}

// TestAnAutomatedSyncDoesNotRunAFailedHookAgainByItself: an automated Application whose PreSync
// hook fails is Stalled with reason HookFailed, and the hook is not run again at every interval
// (1s here) for the same commit: a migration that failed waits for a person.
func TestAnAutomatedSyncDoesNotRunAFailedHookAgainByItself(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{
		"migrate.yaml": hookJob("name: migrate", `gitops.ferry.dev/hook: PreSync`, fmt.Sprintf("%s: %q", localstack.FailLabel, "true")),
		"schema.yaml":  configMap("schema", "v1"),
	})
	f.create("shop", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true}
	})
	f.waitFor("shop", "Stalled by the failed hook", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionStalled)
		return c != nil && c.Reason == gitopsv1alpha1.ReasonHookFailed
	})
	failedRun, err := f.kube.BatchV1().Jobs(f.dest).Get(t.Context(), "migrate", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		j, err := f.kube.BatchV1().Jobs(f.dest).Get(t.Context(), "migrate", metav1.GetOptions{})
		if err == nil && j.UID != failedRun.UID || apierrors.IsNotFound(err) {
			t.Fatalf("the failed PreSync hook was run again at the same commit without anyone asking: %s", describe(f.get("shop")))
		}
		time.Sleep(200 * time.Millisecond) // polling: four intervals must pass without a new run
	}
	if c := findCondition(f.get("shop").Status.Conditions, gitopsv1alpha1.ConditionStalled); c == nil || c.Reason != gitopsv1alpha1.ReasonHookFailed {
		t.Errorf("the failure is no longer reported after the intervals: Stalled %+v", c)
	}
	if _, ok := f.liveValue("schema"); ok {
		t.Error("an object was applied although the PreSync hook failed")
	}
}
