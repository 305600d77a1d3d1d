package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// syncTimeout bounds how long a test waits for the controller; the shortest interval Ferry
// accepts is 10s, so a new commit is seen within about that.
const syncTimeout = 90 * time.Second

func configMapYAML(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

func serviceYAML(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\nspec:\n  ports:\n  - port: 80\n", name)
}

// gitApp returns an Application manifest deploying path of repo into dest, re-checking Git
// every 10s; edits as for appManifest.
func gitApp(ns, name string, repo *gittest.Repo, path, dest string, edits map[string]any) string {
	all := map[string]any{
		"source.repoURL":        repo.URL(),
		"source.path":           path,
		"destination.namespace": dest,
		"syncPolicy.interval":   "10s",
	}
	for k, v := range edits {
		all[k] = v
	}
	return appManifest(ns, name, all)
}

func getApp(t *testing.T, ns, name string) *gitopsv1alpha1.Application {
	t.Helper()
	app, err := ferryClient(t, Admin).GitopsV1alpha1().Applications(ns).Get(ctxFor(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get application %s/%s: %v", ns, name, err)
	}
	return app
}

func condition(app *gitopsv1alpha1.Application, typ string) string {
	for _, c := range app.Status.Conditions {
		if c.Type == typ {
			return string(c.Status) + "/" + c.Reason + ": " + c.Message
		}
	}
	return "<none>"
}

func describeApp(app *gitopsv1alpha1.Application) string {
	op := "<none>"
	if app.Status.Operation != nil {
		op = string(app.Status.Operation.Phase) + " " + app.Status.Operation.Message
	}
	return fmt.Sprintf("sync=%s@%.12s health=%s ready=%q stalled=%q op=%s resources=%d",
		app.Status.Sync.Status, app.Status.Sync.Revision, app.Status.Health.Status,
		condition(app, "Ready"), condition(app, "Stalled"), op, len(app.Status.Resources))
}

// waitApp polls the Application until cond holds.
func waitApp(t *testing.T, ns, name, what string, cond func(*gitopsv1alpha1.Application) bool) *gitopsv1alpha1.Application {
	t.Helper()
	var last *gitopsv1alpha1.Application
	eventually(t, syncTimeout, what, func() (bool, string) {
		last = getApp(t, ns, name)
		return cond(last), describeApp(last)
	})
	return last
}

func configMapValue(t *testing.T, ns, name string) (string, bool) {
	t.Helper()
	r := stack.Run(Admin, "", "get", "configmap", name, "-n", ns, "-o", "jsonpath={.data.value}")
	if r.Err != nil {
		return "", false
	}
	return r.Stdout, true
}

func synced(app *gitopsv1alpha1.Application) bool {
	return app.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && app.Status.ObservedGeneration == app.Generation
}

func TestAutomatedApplicationDeploysFollowsCommitsAndPrunes(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("auto")
	first := repo.Commit("main", map[string]string{
		"apps/web/cm.yaml":      configMapYAML("web-settings", "v1"),
		"apps/web/old.yaml":     configMapYAML("web-old", "x"),
		"apps/web/service.yaml": serviceYAML("web"),
	}, "first")
	ns := newNamespace(t, "auto")
	dest := newNamespace(t, "auto-dest")
	// An object with the name of one Ferry will prune, but not Ferry's: it must survive.
	kubectlStdin(t, Admin, configMapYAML("stranger", "mine"), "apply", "-n", dest, "-f", "-")

	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "apps/web", dest, nil), "apply", "-f", "-")
	r := stack.Run(Admin, "", "wait", "--for=condition=Ready", "application/web", "-n", ns, "--timeout=90s")
	if r.Err != nil {
		t.Fatalf("kubectl wait --for=condition=Ready: %v; app: %s", r, describeApp(getApp(t, ns, "web")))
	}
	app := getApp(t, ns, "web")
	if app.Status.Sync.Revision != first || app.Status.SourceRevision != first || app.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
		t.Errorf("after the first sync: %s, want revision %s and Healthy", describeApp(app), first)
	}
	if len(app.Status.Resources) != 3 {
		t.Errorf("inventory has %d objects, want 3: %+v", len(app.Status.Resources), app.Status.Resources)
	}
	if v, ok := configMapValue(t, dest, "web-settings"); !ok || v != "v1" {
		t.Fatalf("web-settings = %q, %v", v, ok)
	}
	ann := kubectl(t, "get", "configmap", "web-settings", "-n", dest, "-o", `jsonpath={.metadata.annotations.gitops\.ferry\.dev/tracking-id}`)
	if want := ns + "/web:/ConfigMap:" + dest + "/web-settings"; ann != want {
		t.Errorf("tracking annotation %q, want %q", ann, want)
	}
	out := kubectl(t, "get", "applications", "-n", ns)
	if !strings.Contains(normalizeSpace(out), "web main Synced Healthy") {
		t.Errorf("kubectl get applications:\n%s", out)
	}

	// A new commit is applied by itself; a removed file is pruned.
	second := repo.Commit("main", map[string]string{"apps/web/cm.yaml": configMapYAML("web-settings", "v2"), "apps/web/old.yaml": ""}, "second")
	waitApp(t, ns, "web", "the second commit synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == second && synced(a)
	})
	if v, _ := configMapValue(t, dest, "web-settings"); v != "v2" {
		t.Errorf("after the push web-settings = %q, want v2", v)
	}
	eventually(t, 30*time.Second, "web-old pruned", func() (bool, string) {
		_, exists := configMapValue(t, dest, "web-old")
		return !exists, "still there"
	})
	if v, ok := configMapValue(t, dest, "stranger"); !ok || v != "mine" {
		t.Errorf("an object Ferry does not own was touched: %q %v", v, ok)
	}
	events := kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=web", "-o", "jsonpath={range .items[*]}{.reason}{\" \"}{end}")
	if !strings.Contains(events, "Synced") || !strings.Contains(events, "Pruned") {
		t.Errorf("events on the Application: %q, want Synced and Pruned", events)
	}
}

func TestManualApplicationWaitsForSync(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("manual")
	first := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("manual-cm", "v1")}, "first")
	ns := newNamespace(t, "manual")
	kubectlStdin(t, Admin, gitApp(ns, "m", repo, "app", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")

	app := waitApp(t, ns, "m", "OutOfSync reported", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync && a.Status.SourceRevision == first
	})
	if !strings.Contains(condition(app, "Synced"), "sync") {
		t.Errorf("Synced condition %q should tell how to sync", condition(app, "Synced"))
	}
	if _, exists := configMapValue(t, ns, "manual-cm"); exists {
		t.Fatal("a manual Application applied without a sync request")
	}

	// A dry-run sync changes nothing but succeeds.
	body := func(extra string) string {
		return `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync","metadata":{"name":"m"},"spec":{` + extra + `}}`
	}
	syncPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/m/sync"
	kubectlStdin(t, Admin, body(`"dryRun":true`), "create", "--raw", syncPath, "-f", "-")
	waitApp(t, ns, "m", "dry-run operation finished", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Operation != nil && a.Status.Operation.Phase == gitopsv1alpha1.OperationSucceeded
	})
	if _, exists := configMapValue(t, ns, "manual-cm"); exists {
		t.Fatal("a dry-run sync created the ConfigMap")
	}

	raw := kubectlStdin(t, Admin, body(`"prune":true`), "create", "--raw", syncPath, "-f", "-")
	var resp gitopsv1alpha1.ApplicationSync
	if err := json.Unmarshal([]byte(raw), &resp); err != nil {
		t.Fatal(err)
	}
	app = waitApp(t, ns, "m", "sync operation finished", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Operation != nil && a.Status.Operation.ID == resp.Status.OperationID &&
			(a.Status.Operation.Phase == gitopsv1alpha1.OperationSucceeded || a.Status.Operation.Phase == gitopsv1alpha1.OperationFailed)
	})
	if app.Status.Operation.Phase != gitopsv1alpha1.OperationSucceeded || app.Status.Operation.SyncedRevision != first {
		t.Fatalf("operation: %+v", app.Status.Operation)
	}
	if v, ok := configMapValue(t, ns, "manual-cm"); !ok || v != "v1" {
		t.Errorf("after the sync manual-cm = %q %v", v, ok)
	}
	if len(app.Status.History) != 2 || app.Status.History[0].ID != resp.Status.OperationID || !app.Status.History[1].DryRun {
		t.Errorf("history %+v, want the sync then the dry run, newest first", app.Status.History)
	}
	waitApp(t, ns, "m", "Synced after the sync", synced)

	// A new commit makes it OutOfSync again, and nothing is applied until asked.
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("manual-cm", "v2")}, "second")
	waitApp(t, ns, "m", "OutOfSync after a push", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	if v, _ := configMapValue(t, ns, "manual-cm"); v != "v1" {
		t.Errorf("a manual Application applied a new commit by itself: %q", v)
	}

	// A sync to an older revision applies that revision.
	kubectlStdin(t, Admin, body(`"revision":"`+first+`"`), "create", "--raw", syncPath, "-f", "-")
	app = waitApp(t, ns, "m", "sync to the first commit", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Operation != nil && a.Status.Operation.Revision == first && a.Status.Operation.Phase == gitopsv1alpha1.OperationSucceeded
	})
	if app.Status.Sync.Revision != first {
		t.Errorf("synced revision %s, want %s", app.Status.Sync.Revision, first)
	}
}

func TestInvalidManifestAppliesNothing(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("invalid")
	repo.Commit("main", map[string]string{
		"app/good.yaml": configMapYAML("good", "x"),
		"app/bad.yaml":  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  template:\n    spec:\n      containers: []\n",
	}, "broken")
	ns := newNamespace(t, "invalid")
	kubectlStdin(t, Admin, gitApp(ns, "bad", repo, "app", ns, nil), "apply", "-f", "-")
	app := waitApp(t, ns, "bad", "Ready=False", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/ApplyFailed")
	})
	if msg := condition(app, "Ready"); !strings.Contains(msg, "Deployment.apps/"+ns+"/broken") || !strings.Contains(msg, "nothing was applied") {
		t.Errorf("Ready condition %q should name the Deployment and say nothing was applied", msg)
	}
	if !strings.HasPrefix(condition(app, "Stalled"), "True") {
		t.Errorf("Stalled = %q, want True: retrying the same commit cannot help", condition(app, "Stalled"))
	}
	if _, exists := configMapValue(t, ns, "good"); exists {
		t.Error("the valid ConfigMap was applied beside the invalid Deployment")
	}
}

func TestUnparsableFileIsNamed(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("unparsable")
	repo.Commit("main", map[string]string{"app/ok.yaml": configMapYAML("ok", "x"), "app/nokind.yaml": "apiVersion: v1\nmetadata:\n  name: x\n"}, "c")
	ns := newNamespace(t, "unparsable")
	kubectlStdin(t, Admin, gitApp(ns, "u", repo, "app", ns, nil), "apply", "-f", "-")
	app := waitApp(t, ns, "u", "RenderFailed", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/RenderFailed")
	})
	if msg := condition(app, "Ready"); !strings.Contains(msg, "app/nokind.yaml") || !strings.Contains(msg, "kind") {
		t.Errorf("Ready condition %q should name the file and the missing field", msg)
	}
}

func TestGitOutageRetriesAndRecovers(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("flaky")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("flaky-cm", "v1")}, "c")
	ns := newNamespace(t, "flaky")
	kubectlStdin(t, Admin, gitApp(ns, "f", repo, "app", ns, map[string]any{
		"syncPolicy.retry": map[string]any{"limit": 10, "backoff": map[string]any{"duration": "1s", "factor": 2, "maxDuration": "4s"}},
	}), "apply", "-f", "-")
	waitApp(t, ns, "f", "first sync", synced)

	srv.SetDown(true)
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("flaky-cm", "v2")}, "while down")
	app := waitApp(t, ns, "f", "the outage reported", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/GitOperationFailed")
	})
	if !strings.HasPrefix(condition(app, "Stalled"), "False") {
		t.Errorf("an outage must be retried, not Stalled: %s", condition(app, "Stalled"))
	}
	if v, ok := configMapValue(t, ns, "flaky-cm"); !ok || v != "v1" {
		t.Errorf("during the outage the deployed object changed or went: %q %v", v, ok)
	}

	srv.SetDown(false)
	waitApp(t, ns, "f", "recovered after the server came back", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "True")
	})
	if v, _ := configMapValue(t, ns, "flaky-cm"); v != "v2" {
		t.Errorf("after recovery flaky-cm = %q, want v2", v)
	}
}

func TestDeletingAnApplicationPrunesUnlessOrphaned(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("deletion")
	repo.Commit("main", map[string]string{"a/cm.yaml": configMapYAML("pruned-on-delete", "x"), "b/cm.yaml": configMapYAML("orphaned", "x")}, "c")
	ns := newNamespace(t, "deletion")
	kubectlStdin(t, Admin, gitApp(ns, "a", repo, "a", ns, nil), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "b", repo, "b", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "a", "a synced", synced)
	waitApp(t, ns, "b", "b synced", synced)

	kubectl(t, "annotate", "application", "b", "-n", ns, gitopsv1alpha1.DeletionPolicyAnnotation+"="+gitopsv1alpha1.DeletionPolicyOrphan)
	kubectl(t, "delete", "application", "a", "b", "-n", ns, "--timeout=60s")
	if _, exists := configMapValue(t, ns, "pruned-on-delete"); exists {
		t.Error("deleting the Application left its object behind")
	}
	if _, exists := configMapValue(t, ns, "orphaned"); !exists {
		t.Error("an Application with deletion-policy orphan took its object with it")
	}
}

func TestServiceAccountLimitsWhatAnApplicationMayDeploy(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("impersonation")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("limited", "x")}, "c")
	ns := newNamespace(t, "imp")
	kubectl(t, "create", "serviceaccount", "deployer", "-n", ns)
	kubectlStdin(t, Admin, gitApp(ns, "limited", repo, "app", ns, map[string]any{"serviceAccountName": "deployer"}), "apply", "-f", "-")
	app := waitApp(t, ns, "limited", "Forbidden reported", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/Forbidden")
	})
	if msg := condition(app, "Ready"); !strings.Contains(msg, "system:serviceaccount:"+ns+":deployer") || !strings.Contains(msg, "configmaps") {
		t.Errorf("Ready condition %q should name the ServiceAccount and what it may not do", msg)
	}
	if _, exists := configMapValue(t, ns, "limited"); exists {
		t.Fatal("the ConfigMap was applied despite the ServiceAccount lacking the right")
	}
	kubectl(t, "create", "role", "deployer", "-n", ns, "--verb=get,list,watch,create,update,patch,delete", "--resource=configmaps")
	kubectl(t, "create", "rolebinding", "deployer", "-n", ns, "--role=deployer", "--serviceaccount="+ns+":deployer")
	waitApp(t, ns, "limited", "synced once granted", synced)
	if _, exists := configMapValue(t, ns, "limited"); !exists {
		t.Error("granted, the ConfigMap is still missing")
	}
}

func TestEscapesOutOfTheRepositoryAreRefused(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("escape")
	repo.Commit("main", map[string]string{
		"remote/kustomization.yaml": "resources:\n- https://example.com/all.yaml\n",
		"link/ok.yaml":              configMapYAML("ok", "x"),
	}, "c")
	repo.Symlink("main", "link/passwd.yaml", "../../../../etc/passwd")
	ns := newNamespace(t, "escape")
	kubectlStdin(t, Admin, gitApp(ns, "remote", repo, "remote", ns, nil), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "link", repo, "link", ns, nil), "apply", "-f", "-")
	for name, want := range map[string]string{"remote": "remote base", "link": "outside the repository"} {
		app := waitApp(t, ns, name, name+" refused", func(a *gitopsv1alpha1.Application) bool {
			return strings.HasPrefix(condition(a, "Ready"), "False/RenderFailed")
		})
		if msg := condition(app, "Ready"); !strings.Contains(msg, want) {
			t.Errorf("%s: Ready condition %q should say %q", name, msg, want)
		}
	}
	if _, exists := configMapValue(t, ns, "ok"); exists {
		t.Error("objects beside the escaping link were applied")
	}
}

func TestDriftIsSeenWithinSecondsAndHealed(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("drift")
	repo.Commit("main", map[string]string{
		"heal/cm.yaml":   configMapYAML("healed", "git"),
		"report/cm.yaml": configMapYAML("reported", "git"),
		"ignore/cm.yaml": configMapYAML("ignored", "git"),
	}, "c")
	ns := newNamespace(t, "drift")
	// A long interval: anything seen within the test's deadline was seen through the watch.
	long := map[string]any{"syncPolicy.interval": "1h"}
	kubectlStdin(t, Admin, gitApp(ns, "heal", repo, "heal", ns, long), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "report", repo, "report", ns, map[string]any{
		"syncPolicy.interval": "1h", "syncPolicy.automated": map[string]any{"prune": true, "selfHeal": false},
	}), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "ignore", repo, "ignore", ns, map[string]any{
		"syncPolicy.interval": "1h",
		"ignoreDifferences":   []any{map[string]any{"kind": "ConfigMap", "name": "ignored", "jsonPointers": []any{"/data/value"}}},
	}), "apply", "-f", "-")
	for _, name := range []string{"heal", "report", "ignore"} {
		waitApp(t, ns, name, name+" synced", synced)
	}

	edit := func(name string) {
		kubectl(t, "patch", "configmap", name, "-n", ns, "--type=merge", "-p", `{"data":{"value":"by hand"}}`)
	}

	edit("healed")
	eventually(t, 20*time.Second, "self-heal restores the edited ConfigMap", func() (bool, string) {
		v, _ := configMapValue(t, ns, "healed")
		return v == "git", "value " + v
	})

	edit("reported")
	waitApp(t, ns, "report", "drift reported as OutOfSync", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	if v, _ := configMapValue(t, ns, "reported"); v != "by hand" {
		t.Errorf("without selfHeal the edit was reverted: %q", v)
	}

	edit("ignored")
	// The ignored field's change must neither be reverted nor reported. Edit the self-healed
	// object right after it and wait for that heal: by then the ignored edit has been looked at.
	edit("healed")
	eventually(t, 20*time.Second, "self-heal after the second edit", func() (bool, string) {
		v, _ := configMapValue(t, ns, "healed")
		return v == "git", "value " + v
	})
	app := getApp(t, ns, "ignore")
	if app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
		t.Errorf("an ignoreDifferences field made the Application %s", app.Status.Sync.Status)
	}
	if v, _ := configMapValue(t, ns, "ignored"); v != "by hand" {
		t.Errorf("an ignoreDifferences field was reverted to %q", v)
	}
}

func TestTwoApplicationsOnOneRepositoryShareFetches(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("shared")
	repo.Commit("main", map[string]string{"a/cm.yaml": configMapYAML("shared-a", "v1"), "b/cm.yaml": configMapYAML("shared-b", "v1")}, "c1")
	ns := newNamespace(t, "shared")
	kubectlStdin(t, Admin, gitApp(ns, "a", repo, "a", ns, nil), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "b", repo, "b", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "a", "a synced", synced)
	waitApp(t, ns, "b", "b synced", synced)
	// A fetch is a POST to git-upload-pack; ref listings are GETs of info/refs.
	if n := srv.CountRequests("POST /shared.git/git-upload-pack"); n != 1 {
		t.Errorf("two Applications on one repository made %d fetches of the first commit, want 1", n)
	}

	second := repo.Commit("main", map[string]string{"a/cm.yaml": configMapYAML("shared-a", "v2"), "b/cm.yaml": configMapYAML("shared-b", "v2")}, "c2")
	for _, name := range []string{"a", "b"} {
		waitApp(t, ns, name, name+" synced the second commit", func(a *gitopsv1alpha1.Application) bool {
			return a.Status.Sync.Revision == second && synced(a)
		})
	}
	if n := srv.CountRequests("POST /shared.git/git-upload-pack"); n != 2 {
		t.Errorf("after one more commit the repository was fetched %d times in all, want 2", n)
	}

	metrics := scrapeFerryMetrics(t)
	for _, name := range []string{"ferry_git_fetches_total", "ferry_reconcile_duration_seconds", "ferry_syncs_total", "ferry_applications", "ferry_render_duration_seconds"} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

func TestSyncHistoryIsCapped(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("history")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("history", "v1")}, "c")
	ns := newNamespace(t, "history")
	kubectlStdin(t, Admin, gitApp(ns, "h", repo, "app", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")
	syncPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/h/sync"
	var ids []string
	for i := 0; i < gitopsv1alpha1.MaxHistory+2; i++ {
		raw := kubectlStdin(t, Admin, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync"}`, "create", "--raw", syncPath, "-f", "-")
		var resp gitopsv1alpha1.ApplicationSync
		if err := json.Unmarshal([]byte(raw), &resp); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, resp.Status.OperationID)
		waitApp(t, ns, "h", fmt.Sprintf("sync %d finished", i), func(a *gitopsv1alpha1.Application) bool {
			return a.Status.Operation != nil && a.Status.Operation.ID == resp.Status.OperationID && a.Status.Operation.Phase == gitopsv1alpha1.OperationSucceeded
		})
	}
	app := getApp(t, ns, "h")
	if len(app.Status.History) != gitopsv1alpha1.MaxHistory {
		t.Fatalf("history holds %d operations after %d syncs, want %d", len(app.Status.History), len(ids), gitopsv1alpha1.MaxHistory)
	}
	if app.Status.History[0].ID != ids[len(ids)-1] || app.Status.History[gitopsv1alpha1.MaxHistory-1].ID != ids[2] {
		t.Errorf("history is not the newest %d, newest first", gitopsv1alpha1.MaxHistory)
	}
}

// scrapeFerryMetrics reads ferry-apiserver's /metrics directly, as a Prometheus would, with the
// admin's token (authorised through kube-apiserver like any request).
func scrapeFerryMetrics(t *testing.T) string {
	t.Helper()
	s := requireStack(t)
	cfg := &rest.Config{
		Host:            "https://127.0.0.1:" + s.Env["FERRY_PORT"],
		BearerToken:     s.Token(Admin),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(s.Dir, "pki", "ferry-ca.crt")},
		Timeout:         30 * time.Second,
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(cfg.Host + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v\n%s", resp.StatusCode, err, body)
	}
	return string(body)
}

func TestCredentialsFromASecret(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("private")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("private-cm", "v1")}, "c")
	srv.RequireBasicAuth("ferry", "s3cret-pw")
	ns := newNamespace(t, "creds")
	kubectl(t, "create", "secret", "generic", "repo-creds", "-n", ns, "--from-literal=username=ferry", "--from-literal=password=wrong-pw")
	kubectlStdin(t, Admin, gitApp(ns, "private", repo, "app", ns, map[string]any{
		"source.credentialsRef": map[string]any{"name": "repo-creds"},
		"syncPolicy.retry":      map[string]any{"limit": 20, "backoff": map[string]any{"duration": "1s", "factor": 1, "maxDuration": "2s"}},
	}), "apply", "-f", "-")
	app := waitApp(t, ns, "private", "refused credentials reported", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Ready"), "False/GitOperationFailed")
	})
	if msg := condition(app, "Ready"); !strings.Contains(msg, "credentials") || strings.Contains(msg, "wrong-pw") {
		t.Errorf("Ready condition %q should say the credentials were refused, without the password", msg)
	}
	kubectlStdin(t, Admin, kubectl(t, "create", "secret", "generic", "repo-creds", "-n", ns, "--from-literal=username=ferry",
		"--from-literal=password=s3cret-pw", "--dry-run=client", "-o", "yaml"), "apply", "-f", "-")
	waitApp(t, ns, "private", "synced with the corrected Secret", synced)
	if v, _ := configMapValue(t, ns, "private-cm"); v != "v1" {
		t.Errorf("private-cm = %q", v)
	}
}

func TestSuspendStopsReconciling(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("suspend")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("suspended-cm", "v1")}, "c1")
	ns := newNamespace(t, "suspend")
	kubectlStdin(t, Admin, gitApp(ns, "s", repo, "app", ns, nil), "apply", "-f", "-")
	waitApp(t, ns, "s", "first sync", synced)

	kubectl(t, "patch", "application", "s", "-n", ns, "--type=merge", "-p", `{"spec":{"suspend":true}}`)
	waitApp(t, ns, "s", "Reconciling=False/Suspended", func(a *gitopsv1alpha1.Application) bool {
		return strings.HasPrefix(condition(a, "Reconciling"), "False/Suspended") && a.Status.ObservedGeneration == a.Generation
	})
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("suspended-cm", "v2")}, "c2")
	kubectl(t, "patch", "configmap", "suspended-cm", "-n", ns, "--type=merge", "-p", `{"data":{"value":"by hand"}}`)
	r := kubectlFails(t, Admin, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync"}`,
		"create", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/s/sync", "-f", "-")
	if !strings.Contains(r.Stderr, "suspend") {
		t.Errorf("a sync of a suspended Application: %s", r)
	}

	kubectl(t, "patch", "application", "s", "-n", ns, "--type=merge", "-p", `{"spec":{"suspend":false}}`)
	eventually(t, syncTimeout, "resumed: the new commit applied", func() (bool, string) {
		v, _ := configMapValue(t, ns, "suspended-cm")
		return v == "v2", "value " + v
	})
}

func TestHealthSubresourceIsLiveAndHasItsOwnPermission(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("health")
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
`
	repo.Commit("main", map[string]string{"app/deploy.yaml": deploy, "app/cm.yaml": configMapYAML("health-cm", "x")}, "c")
	ns := newNamespace(t, "health")
	kubectlStdin(t, Admin, gitApp(ns, "h", repo, "app", ns, map[string]any{
		"syncPolicy.automated": map[string]any{"prune": true, "selfHeal": false},
	}), "apply", "-f", "-")
	waitApp(t, ns, "h", "synced", synced)

	path := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/h/health"
	read := func(user string) gitopsv1alpha1.ApplicationHealth {
		t.Helper()
		var h gitopsv1alpha1.ApplicationHealth
		if err := json.Unmarshal([]byte(kubectlAs(t, user, "get", "--raw", path)), &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	// The stack's Node (kwok) runs the Pod: the rollout finishes and /health says Healthy.
	var h gitopsv1alpha1.ApplicationHealth
	eventually(t, syncTimeout, "the Deployment rolled out", func() (bool, string) {
		h = read(Admin)
		return h.Status == gitopsv1alpha1.HealthHealthy, fmt.Sprintf("%s %q %+v", h.Status, h.Message, h.Resources)
	})
	if h.Kind != "ApplicationHealth" || len(h.Resources) != 2 {
		t.Fatalf("health after the rollout: %+v", h)
	}

	// Pause the rollout by hand (the Application does not self-heal): /health reads the
	// cluster at request time, so the very next request shows it.
	kubectl(t, "patch", "deployment", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"paused":true}}`)
	if h := read(Admin); h.Status != gitopsv1alpha1.HealthSuspended || h.Resources[1].Status != gitopsv1alpha1.HealthSuspended {
		t.Errorf("health right after pausing the Deployment: %s %q %+v", h.Status, h.Message, h.Resources)
	}

	// get applications/health is its own permission: ferry-view grants it, get applications alone does not.
	kubectl(t, "create", "rolebinding", "viewer", "-n", ns, "--clusterrole=ferry-view", "--user=viewer")
	kubectl(t, "create", "role", "get-only", "-n", ns, "--verb=get", "--resource=applications.gitops.ferry.dev")
	kubectl(t, "create", "rolebinding", "get-only", "-n", ns, "--role=get-only", "--user=other")
	eventually(t, 30*time.Second, "viewer may read health", func() (bool, string) {
		r := stack.Run("viewer", "", "get", "--raw", path)
		return r.Err == nil, r.String()
	})
	if r := stack.Run("other", "", "get", "application", "h", "-n", ns); r.Err != nil {
		t.Fatalf("a user with get applications cannot get the Application: %s", r)
	}
	if r := stack.Run("other", "", "get", "--raw", path); r.Err == nil || !strings.Contains(r.Stderr, "Forbidden") {
		t.Errorf("get applications alone must not grant applications/health: %s", r)
	}
}

func TestManifestsAtARevisionWithSecretsMasked(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("manifests")
	const secretValue = "hunter2-do-not-leak"
	secret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: " + secretValue + "\n"
	first := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("m-cm", "v1"), "app/secret.yaml": secret}, "c1")
	repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("m-cm", "v2")}, "c2")
	ns := newNamespace(t, "manifests")
	kubectlStdin(t, Admin, gitApp(ns, "m", repo, "app", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")
	path := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/m/manifests"

	read := func(query string) (gitopsv1alpha1.ApplicationManifests, map[string]map[string]any, string) {
		t.Helper()
		raw := kubectl(t, "get", "--raw", path+query)
		var m gitopsv1alpha1.ApplicationManifests
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatal(err)
		}
		byName := map[string]map[string]any{}
		for _, o := range m.Objects {
			var obj map[string]any
			if err := json.Unmarshal(o.Raw, &obj); err != nil {
				t.Fatal(err)
			}
			byName[obj["metadata"].(map[string]any)["name"].(string)] = obj
		}
		return m, byName, raw
	}
	m, objs, raw := read("")
	cmValue := objs["m-cm"]["data"].(map[string]any)["value"]
	if m.Kind != "ApplicationManifests" || len(m.Revision) != 40 || cmValue != "v2" {
		t.Errorf("manifests at the head: kind %s revision %s value %v", m.Kind, m.Revision, cmValue)
	}
	if ns2 := objs["m-cm"]["metadata"].(map[string]any)["namespace"]; ns2 != ns {
		t.Errorf("the namespace is not defaulted as Ferry would apply it: %v", ns2)
	}
	if strings.Contains(raw, secretValue) {
		t.Fatalf("the Secret's value is in the response:\n%s", raw)
	}
	if pw := objs["creds"]["stringData"].(map[string]any)["password"]; pw != "<masked>" {
		t.Errorf("the Secret's key should show with a masked value, got %v", pw)
	}

	m, objs, _ = read("?revision=" + first)
	if m.Revision != first || objs["m-cm"]["data"].(map[string]any)["value"] != "v1" {
		t.Errorf("manifests at the first commit: revision %s value %v", m.Revision, objs["m-cm"]["data"])
	}
	r := stack.Run(Admin, "", "get", "--raw", path+"?revision=no-such-branch")
	if r.Err == nil || !strings.Contains(r.Stderr, "NotFound") && !strings.Contains(r.Stderr, "not found") {
		t.Errorf("an unknown revision: %s", r)
	}
	if log := stack.LogTail("ferry-apiserver", 100000); strings.Contains(log, secretValue) {
		t.Error("the Secret's value is in ferry-apiserver's log")
	}
}

func TestDiffShowsWhatASyncWouldDo(t *testing.T) {
	requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("diff")
	secret := func(pw string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  pw: " + pw + "\n"
	}
	repo.Commit("main", map[string]string{
		"app/a.yaml": configMapYAML("diff-a", "v1"), "app/b.yaml": configMapYAML("diff-b", "v1"), "app/s.yaml": secret("first-secret-value"),
	}, "c1")
	ns := newNamespace(t, "diff")
	kubectlStdin(t, Admin, gitApp(ns, "d", repo, "app", ns, map[string]any{
		"syncPolicy.automated": nil,
		"ignoreDifferences":    []any{map[string]any{"kind": "ConfigMap", "name": "diff-b", "jsonPointers": []any{"/data/value"}}},
	}), "apply", "-f", "-")
	syncPath := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/d/sync"
	sync := func() {
		t.Helper()
		raw := kubectlStdin(t, Admin, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync","spec":{"prune":true}}`, "create", "--raw", syncPath, "-f", "-")
		var resp gitopsv1alpha1.ApplicationSync
		if err := json.Unmarshal([]byte(raw), &resp); err != nil {
			t.Fatal(err)
		}
		waitApp(t, ns, "d", "sync finished", func(a *gitopsv1alpha1.Application) bool {
			return a.Status.Operation != nil && a.Status.Operation.ID == resp.Status.OperationID && a.Status.Operation.Phase == gitopsv1alpha1.OperationSucceeded
		})
	}
	sync()

	path := "/apis/gitops.ferry.dev/v1alpha1/namespaces/" + ns + "/applications/d/diff"
	getDiff := func() (gitopsv1alpha1.ApplicationDiff, map[string]gitopsv1alpha1.ResourceDiff, string) {
		t.Helper()
		raw := kubectl(t, "get", "--raw", path)
		var d gitopsv1alpha1.ApplicationDiff
		if err := json.Unmarshal([]byte(raw), &d); err != nil {
			t.Fatal(err)
		}
		byName := map[string]gitopsv1alpha1.ResourceDiff{}
		for _, it := range d.Items {
			byName[it.Name] = it
		}
		return d, byName, raw
	}

	d, _, _ := getDiff()
	if d.Summary != (gitopsv1alpha1.DiffSummary{None: 3}) {
		t.Errorf("a freshly synced Application diffs: %+v %+v", d.Summary, d.Items)
	}

	// A hand edit shows as drift; one on an ignored field does not.
	kubectl(t, "patch", "configmap", "diff-a", "-n", ns, "--type=merge", "-p", `{"data":{"value":"by hand"}}`)
	kubectl(t, "patch", "configmap", "diff-b", "-n", ns, "--type=merge", "-p", `{"data":{"value":"by hand"}}`)
	_, items, _ := getDiff()
	if a := items["diff-a"]; a.Action != gitopsv1alpha1.DiffUpdate || !strings.Contains(a.Diff, "-  value: by hand") || !strings.Contains(a.Diff, "+  value: v1") {
		t.Errorf("drift of diff-a: %s\n%s", a.Action, a.Diff)
	}
	if b := items["diff-b"]; b.Action != gitopsv1alpha1.DiffNone {
		t.Errorf("an ignoreDifferences field shows: %s\n%s", b.Action, b.Diff)
	}

	// A commit that changes a value and the Secret, adds an object and removes one.
	repo.Commit("main", map[string]string{
		"app/a.yaml": configMapYAML("diff-a", "v2"), "app/b.yaml": "", "app/c.yaml": configMapYAML("diff-c", "new"), "app/s.yaml": secret("second-secret-value"),
	}, "c2")
	eventually(t, syncTimeout, "the diff sees the new commit", func() (bool, string) {
		d, _, _ := getDiff()
		return d.Summary.Create == 1, fmt.Sprintf("%+v", d.Summary)
	})
	d, items, raw := getDiff()
	if d.Summary != (gitopsv1alpha1.DiffSummary{Create: 1, Update: 2, Delete: 1}) {
		t.Errorf("summary %+v, want 1 create, 2 updates (diff-a, s), 1 delete", d.Summary)
	}
	if a := items["diff-a"]; !strings.Contains(a.Diff, "+  value: v2") {
		t.Errorf("diff-a:\n%s", a.Diff)
	}
	if c := items["diff-c"]; c.Action != gitopsv1alpha1.DiffCreate || !strings.Contains(c.Diff, "+  value: new") {
		t.Errorf("diff-c: %s\n%s", c.Action, c.Diff)
	}
	if b := items["diff-b"]; b.Action != gitopsv1alpha1.DiffDelete {
		t.Errorf("the removed file: %s", b.Action)
	}
	if s := items["s"]; s.Action != gitopsv1alpha1.DiffUpdate || !strings.Contains(s.Diff, "pw:") {
		t.Errorf("the changed Secret: %s\n%s", s.Action, s.Diff)
	}
	for _, leak := range []string{"first-secret-value", "second-secret-value"} {
		if strings.Contains(raw, leak) {
			t.Errorf("the diff leaks a Secret value %q", leak)
		}
		if strings.Contains(stack.LogTail("ferry-apiserver", 100000), leak) {
			t.Errorf("ferry-apiserver's log holds a Secret value %q", leak)
		}
	}

	// After a pruning sync, nothing is left to do.
	sync()
	if d, _, _ := getDiff(); d.Summary.Create+d.Summary.Update+d.Summary.Delete != 0 {
		t.Errorf("after the sync the diff is %+v: %+v", d.Summary, d.Items)
	}
}
