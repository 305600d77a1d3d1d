package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// ferryPlugin is kubectl-ferry built from ./cmd/kubectl-ferry for this test run.
type ferryPlugin struct {
	s   *Stack
	bin string
}

// buildPlugin builds kubectl-ferry into a temporary directory removed after the test.
func buildPlugin(t *testing.T, s *Stack) *ferryPlugin {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-ferry")
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-ferry")
	cmd.Dir = s.RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-ferry: %v\n%s", err, out)
	}
	t.Logf("built kubectl-ferry in %s", time.Since(start).Round(time.Millisecond))
	return &ferryPlugin{s: s, bin: bin}
}

// pluginResult is one run of kubectl-ferry.
type pluginResult struct {
	Args           []string
	User           string
	Stdout, Stderr string
	Code           int // exit code; -1 when it did not run to completion
	Err            error
}

func (r pluginResult) String() string {
	return "kubectl ferry " + strings.Join(r.Args, " ") + " (as " + r.User + "): exit " + strconv.Itoa(r.Code) +
		"\nstdout:\n" + r.Stdout + "\nstderr:\n" + r.Stderr
}

// run runs kubectl-ferry as user, with that user's kubeconfig given by --kubeconfig.
func (p *ferryPlugin) run(user string, args ...string) pluginResult {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append(append([]string{}, args...), "--kubeconfig", p.s.kubeconfig(user))
	cmd := exec.CommandContext(ctx, p.bin, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=") // only --kubeconfig counts
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
	}
	return pluginResult{Args: args, User: user, Stdout: stdout.String(), Stderr: stderr.String(), Code: code, Err: err}
}

// expect runs kubectl-ferry as user and fails the test unless it exits with code.
func (p *ferryPlugin) expect(t *testing.T, code int, user string, args ...string) pluginResult {
	t.Helper()
	r := p.run(user, args...)
	if r.Code != code {
		t.Fatalf("want exit %d: %s", code, r)
	}
	return r
}

func wantLines(t *testing.T, r pluginResult, wants ...string) {
	t.Helper()
	out := normalizeLines(r.Stdout)
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("stdout lacks %q: %s", w, r)
		}
	}
}

// normalizeLines collapses runs of spaces within each line, keeping the lines.
func normalizeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

var operationIDRE = regexp.MustCompile(`operation ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)

// TestPlugin drives kubectl-ferry, run as a real process against the stack, through list,
// status, sync --wait, health, history, -o json|yaml, refusals and errors.
func TestPlugin(t *testing.T) {
	s := requireStack(t)
	p := buildPlugin(t, s)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("plugin")
	invalidDeployment := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: plugin-broken\nspec:\n  template:\n    spec:\n      containers: []\n"
	first := repo.Commit("main", map[string]string{
		"app/cm.yaml":      configMapYAML("plugin-settings", "v1"),
		"app/service.yaml": serviceYAML("plugin-web"),
		"bad/good.yaml":    configMapYAML("plugin-good", "x"),
		"bad/deploy.yaml":  invalidDeployment,
	}, "first")
	short := first[:12]
	ns := newNamespace(t, "plugin")
	manual := map[string]any{"syncPolicy.automated": nil}
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, manual), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "broken", repo, "bad", ns, manual), "apply", "-f", "-")
	waitApp(t, ns, "web", "web: OutOfSync reported", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == first && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})
	waitApp(t, ns, "broken", "broken: source resolved", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == first
	})

	t.Run("list", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "list", "-n", ns)
		t.Logf("%s", r.Stdout)
		lines := strings.Split(normalizeLines(r.Stdout), "\n")
		if lines[0] != "NAME SYNC HEALTH REVISION READY AGE MESSAGE" {
			t.Errorf("list header %q: %s", lines[0], r)
		}
		wantLines(t, r, "\nweb OutOfSync ", "\nbroken ")

		r = p.expect(t, 0, Admin, "list", "-A")
		t.Logf("%s", r.Stdout)
		if !strings.HasPrefix(normalizeLines(r.Stdout), "NAMESPACE NAME SYNC HEALTH REVISION READY AGE MESSAGE\n") {
			t.Errorf("list -A header: %s", r)
		}
		wantLines(t, r, "\n"+ns+" web OutOfSync ", "\n"+ns+" broken ")
	})

	t.Run("kubectl finds the plugin on PATH", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, s.Kubectl, "ferry", "list", "-n", ns, "--kubeconfig", s.kubeconfig(Admin))
		cmd.Env = append(os.Environ(), "KUBECONFIG=", "PATH="+filepath.Dir(p.bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(normalizeLines(string(out)), "\nweb OutOfSync ") {
			t.Errorf("kubectl ferry list: %v\n%s", err, out)
		}
	})

	var opID string
	t.Run("sync --wait succeeds", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "sync", "web", "-n", ns, "--prune", "--wait", "--timeout", "2m")
		t.Logf("%s", r.Stdout)
		m := operationIDRE.FindStringSubmatch(r.Stdout)
		if m == nil {
			t.Fatalf("no operation id printed: %s", r)
		}
		opID = m[1]
		wantLines(t, r, "Succeeded")
		if v, ok := configMapValue(t, ns, "plugin-settings"); !ok || v != "v1" {
			t.Errorf("after sync --wait returned, plugin-settings = %q, %v", v, ok)
		}
		if out := kubectl(t, "get", "service", "plugin-web", "-n", ns, "-o", "name"); strings.TrimSpace(out) != "service/plugin-web" {
			t.Errorf("service after the sync: %q", out)
		}
		app := getApp(t, ns, "web")
		if op := app.Status.Operation; op == nil || op.ID != opID || op.Phase != gitopsv1alpha1.OperationSucceeded || op.RequestedBy.Username != Admin {
			t.Errorf("status.operation %+v, want %s Succeeded requested by admin", app.Status.Operation, opID)
		}
	})
	waitApp(t, ns, "web", "Synced after the sync", synced)

	t.Run("status", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "status", "web", "-n", ns)
		t.Logf("%s", r.Stdout)
		wantLines(t, r,
			"Name: web\n",
			"Source: "+repo.URL()+"\n",
			"Path: app\n",
			"Revision: main → "+short+"\n",
			"Sync: Synced (applied "+short+")\n",
			"Health: Healthy\n",
			"Sync policy: manual (kubectl ferry sync web -n "+ns+")",
			"Conditions:\nTYPE STATUS REASON AGE MESSAGE\n",
			"\nReady True Succeeded ",
			"Last operation:\nID: "+opID+"\nPhase: Succeeded\nRevision: main → "+short+"\n",
			"Options: prune\n",
			"Requested by: admin (",
			"Resources (2; health read live):\nConfigMap\n└─ "+ns+"/plugin-settings Synced Healthy\nService\n└─ "+ns+"/plugin-web Synced Healthy\n",
		)
	})

	t.Run("health", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "health", "web", "-n", ns)
		t.Logf("%s", r.Stdout)
		wantLines(t, r,
			"Health: Healthy\n",
			"KIND NAMESPACE NAME HEALTH MESSAGE\nConfigMap "+ns+" plugin-settings Healthy ",
			"\nService "+ns+" plugin-web Healthy ",
		)
	})

	t.Run("history", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "history", "web", "-n", ns)
		t.Logf("%s", r.Stdout)
		wantLines(t, r,
			"ID PHASE REVISION REQUESTED-BY FINISHED MESSAGE\n",
			"\n"+opID[:8]+" Succeeded "+short+" admin ",
		)
	})

	t.Run("-o json and yaml", func(t *testing.T) {
		var list gitopsv1alpha1.ApplicationList
		r := p.expect(t, 0, Admin, "list", "-n", ns, "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || list.Kind != "ApplicationList" || len(list.Items) != 2 {
			t.Errorf("list -o json: %v: %s", err, r)
		}
		var app gitopsv1alpha1.Application
		r = p.expect(t, 0, Admin, "status", "web", "-n", ns, "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &app); err != nil || app.Kind != "Application" || app.APIVersion != "gitops.ferry.dev/v1alpha1" ||
			app.Status.Sync.Revision != first || len(app.Status.Resources) != 2 {
			t.Errorf("status -o json: %v: %s", err, r)
		}
		var h gitopsv1alpha1.ApplicationHealth
		r = p.expect(t, 0, Admin, "health", "web", "-n", ns, "-o", "yaml")
		if err := yaml.Unmarshal([]byte(r.Stdout), &h); err != nil || h.Kind != "ApplicationHealth" || h.Status != gitopsv1alpha1.HealthHealthy || len(h.Resources) != 2 {
			t.Errorf("health -o yaml: %v: %s", err, r)
		}
		var history []gitopsv1alpha1.OperationRecord
		r = p.expect(t, 0, Admin, "history", "web", "-n", ns, "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &history); err != nil || len(history) == 0 || history[0].ID != opID {
			t.Errorf("history -o json: %v: %s", err, r)
		}
	})

	t.Run("sync --wait of invalid manifests fails", func(t *testing.T) {
		r := p.expect(t, 1, Admin, "sync", "broken", "-n", ns, "--wait", "--timeout", "2m")
		t.Logf("stdout:\n%sstderr:\n%s", r.Stdout, r.Stderr)
		if !strings.Contains(r.Stderr, "sync of "+ns+"/broken failed: ") || !strings.Contains(r.Stderr, "plugin-broken") {
			t.Errorf("stderr should give the failure and name the invalid Deployment: %s", r)
		}
		wantLines(t, r, "Failed")
		if _, exists := configMapValue(t, ns, "plugin-good"); exists {
			t.Error("the valid ConfigMap beside the invalid Deployment was applied")
		}
		r = p.expect(t, 0, Admin, "history", "broken", "-n", ns)
		wantLines(t, r, " Failed ")
	})

	t.Run("not found", func(t *testing.T) {
		r := p.expect(t, 2, Admin, "status", "nope", "-n", ns)
		if want := "error: no Application nope in namespace " + ns + " (kubectl ferry list -A)\n"; r.Stderr != want {
			t.Errorf("stderr %q, want %q", r.Stderr, want)
		}
	})

	t.Run("viewer may look but not sync", func(t *testing.T) {
		kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=ferry-view", "--user=viewer", "-n", ns)
		eventually(t, 30*time.Second, "viewer may list Applications", func() (bool, string) {
			r := p.run("viewer", "list", "-n", ns)
			return r.Code == 0, r.String()
		})
		r := p.expect(t, 0, "viewer", "status", "web", "-n", ns)
		wantLines(t, r, "Resources (2; health read live):")
		r = p.expect(t, 2, "viewer", "sync", "web", "-n", ns, "--wait")
		t.Logf("stderr:\n%s", r.Stderr)
		for _, want := range []string{"error: Forbidden: ", `"viewer"`, "applications/sync", "ferry-edit",
			"kubectl auth can-i create applications.gitops.ferry.dev --subresource=sync -n " + ns} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("stderr lacks %q: %s", want, r)
			}
		}
	})

	t.Run("without applications/health status falls back to stored health", func(t *testing.T) {
		kubectl(t, "create", "role", "plugin-get-only", "-n", ns, "--verb=get,list", "--resource=applications.gitops.ferry.dev")
		kubectl(t, "create", "rolebinding", "plugin-get-only", "-n", ns, "--role=plugin-get-only", "--user=other")
		var r pluginResult
		eventually(t, 30*time.Second, "other may get the Application", func() (bool, string) {
			r = p.run("other", "status", "web", "-n", ns)
			return r.Code == 0, r.String()
		})
		t.Logf("%s", r.Stdout)
		wantLines(t, r, "Resources (2; health from status: you may not get applications/health", "└─ "+ns+"/plugin-settings Synced Healthy\n")
	})

	// Last: the slow Git server keeps one controller worker busy until the test ends.
	t.Run("sync --wait times out, and a second sync is refused", func(t *testing.T) {
		slowSrv := gittest.NewServer(t)
		slowRepo := slowSrv.NewRepo("slow")
		slowFirst := slowRepo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("plugin-slow", "v1")}, "c")
		kubectlStdin(t, Admin, gitApp(ns, "slow", slowRepo, "app", ns, manual), "apply", "-f", "-")
		waitApp(t, ns, "slow", "source resolved", func(a *gitopsv1alpha1.Application) bool {
			return a.Status.SourceRevision == slowFirst
		})
		slowSrv.SetDelay(2 * time.Minute)

		r := p.expect(t, 2, Admin, "sync", "slow", "-n", ns, "--wait", "--timeout", "3s")
		t.Logf("stdout:\n%sstderr:\n%s", r.Stdout, r.Stderr)
		if !strings.Contains(r.Stderr, "timed out after 3s waiting for operation") || !strings.Contains(r.Stderr, "kubectl ferry status slow -n "+ns) {
			t.Errorf("timeout message: %s", r)
		}
		r = p.expect(t, 1, Admin, "sync", "slow", "-n", ns)
		t.Logf("stderr:\n%s", r.Stderr)
		if !strings.Contains(r.Stderr, "requested by admin is") || !strings.Contains(r.Stderr, "wait for it to finish") {
			t.Errorf("a sync while one is active should print the server's 409 message: %s", r)
		}
		r = p.expect(t, 0, Admin, "list", "-n", ns)
		wantLines(t, r, "sync ") // "sync Pending (requested by admin)" or "sync Running ..."
		slowSrv.SetDelay(0)
	})
}

// TestPluginDiffAndManifests drives kubectl-ferry diff and manifests against the stack: kubectl
// diff's exit codes (0 in sync, 1 differences, 2 errors), --revision reaching the server, the
// YAML stream of manifests, and the refusal of a user who may get the Application but not its
// read subresources.
func TestPluginDiffAndManifests(t *testing.T) {
	s := requireStack(t)
	p := buildPlugin(t, s)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("plugin-diff")
	first := repo.Commit("main", map[string]string{
		"app/cm.yaml":      configMapYAML("pd-settings", "v1"),
		"app/service.yaml": serviceYAML("pd-web"),
	}, "first")
	ns := newNamespace(t, "plugin-diff")
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")
	waitApp(t, ns, "web", "OutOfSync reported", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == first && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
	})

	t.Run("diff before the first sync creates everything", func(t *testing.T) {
		r := p.expect(t, 1, Admin, "diff", "web", "-n", ns)
		t.Logf("%s", r.Stdout)
		wantLines(t, r,
			"+ Create v1 ConfigMap "+ns+"/pd-settings\n--- live\n+++ desired\n",
			"+ Create v1 Service "+ns+"/pd-web\n",
			"\n2 to create, 0 to update, 0 to delete, 0 unchanged (revision "+first[:12]+")\n",
		)
		if r.Stderr != "" {
			t.Errorf("diff with differences wrote to stderr: %s", r)
		}
	})

	p.expect(t, 0, Admin, "sync", "web", "-n", ns, "--prune", "--wait", "--timeout", "2m")
	waitApp(t, ns, "web", "Synced after the sync", synced)

	t.Run("diff of a synced Application exits 0", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "diff", "web", "-n", ns)
		if want := "No differences: web is in sync with " + first[:12] + " (2 objects).\n"; r.Stdout != want {
			t.Errorf("stdout %q, want %q: %s", r.Stdout, want, r)
		}
	})

	second := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("pd-settings", "v2")}, "second")

	t.Run("diff after a commit exits 1 and shows the change", func(t *testing.T) {
		var r pluginResult
		eventually(t, syncTimeout, "diff sees the second commit", func() (bool, string) {
			r = p.run(Admin, "diff", "web", "-n", ns)
			return r.Code == 1 && strings.Contains(r.Stdout, second[:12]), r.String()
		})
		t.Logf("%s", r.Stdout)
		wantLines(t, r,
			"~ Update v1 ConfigMap "+ns+"/pd-settings\n--- live\n+++ desired\n@@ ",
			"\n- value: v1\n+ value: v2\n",
			"\n0 to create, 1 to update, 0 to delete, 1 unchanged (revision "+second[:12]+")\n",
		)
		if strings.Contains(r.Stdout, "pd-web") {
			t.Errorf("the unchanged Service is printed: %s", r)
		}
		if strings.Contains(r.Stdout, "\x1b[") {
			t.Errorf("colours when stdout is not a terminal: %q", r.Stdout)
		}

		var d gitopsv1alpha1.ApplicationDiff
		r = p.expect(t, 1, Admin, "diff", "web", "-n", ns, "-o", "json")
		if err := json.Unmarshal([]byte(r.Stdout), &d); err != nil || d.Kind != "ApplicationDiff" || d.Revision != second ||
			d.Summary != (gitopsv1alpha1.DiffSummary{Update: 1, None: 1}) {
			t.Errorf("diff -o json: %v: %s", err, r)
		}
	})

	t.Run("diff --revision compares another commit", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "diff", "web", "-n", ns, "--revision", first)
		if want := "No differences: web is in sync with " + first[:12] + " (2 objects).\n"; r.Stdout != want {
			t.Errorf("stdout %q, want %q: %s", r.Stdout, want, r)
		}
		r = p.expect(t, 2, Admin, "diff", "web", "-n", ns, "--revision", "no-such-branch")
		t.Logf("stderr:\n%s", r.Stderr)
		if !strings.Contains(r.Stderr, "no-such-branch") || !strings.Contains(r.Stderr, "--revision takes a branch") {
			t.Errorf("diff of an unknown revision: %s", r)
		}
	})

	t.Run("manifests", func(t *testing.T) {
		r := p.expect(t, 0, Admin, "manifests", "web", "-n", ns)
		t.Logf("%s", r.Stdout)
		if !strings.HasPrefix(r.Stdout, "# revision "+second+"\n") {
			t.Errorf("manifests should start with the revision comment: %s", r)
		}
		objs := yamlDocuments(t, r.Stdout)
		if len(objs) != 2 {
			t.Fatalf("manifests: %d documents, want 2: %s", len(objs), r)
		}
		byName := map[string]map[string]any{}
		for _, o := range objs {
			md, _ := o["metadata"].(map[string]any)
			name, _ := md["name"].(string)
			if md["namespace"] != ns {
				t.Errorf("%s: namespace %v, want %s (defaulted as Ferry applies it)", name, md["namespace"], ns)
			}
			byName[o["kind"].(string)+"/"+name] = o
		}
		if v := byName["ConfigMap/pd-settings"]["data"].(map[string]any)["value"]; v != "v2" {
			t.Errorf("pd-settings at the head: value %v, want v2", v)
		}
		if _, ok := byName["Service/pd-web"]; !ok {
			t.Errorf("no Service pd-web in the manifests: %s", r)
		}

		r = p.expect(t, 0, Admin, "manifests", "web", "-n", ns, "--revision", first)
		if !strings.HasPrefix(r.Stdout, "# revision "+first+"\n") {
			t.Errorf("manifests --revision: the revision comment: %s", r)
		}
		for _, o := range yamlDocuments(t, r.Stdout) {
			if o["kind"] == "ConfigMap" {
				if v := o["data"].(map[string]any)["value"]; v != "v1" {
					t.Errorf("pd-settings at the first commit: value %v, want v1", v)
				}
			}
		}

		var m gitopsv1alpha1.ApplicationManifests
		r = p.expect(t, 0, Admin, "manifests", "web", "-n", ns, "-o", "yaml")
		if err := yaml.Unmarshal([]byte(r.Stdout), &m); err != nil || m.Kind != "ApplicationManifests" || m.Revision != second || len(m.Objects) != 2 {
			t.Errorf("manifests -o yaml: %v: %s", err, r)
		}
	})

	t.Run("a user without ferry-view is refused", func(t *testing.T) {
		kubectl(t, "create", "role", "pd-get-only", "-n", ns, "--verb=get,list", "--resource=applications.gitops.ferry.dev")
		kubectl(t, "create", "rolebinding", "pd-get-only", "-n", ns, "--role=pd-get-only", "--user=other")
		eventually(t, 30*time.Second, "other may get the Application", func() (bool, string) {
			r := p.run("other", "history", "web", "-n", ns)
			return r.Code == 0, r.String()
		})
		for _, sub := range []string{"diff", "manifests"} {
			r := p.expect(t, 2, "other", sub, "web", "-n", ns)
			t.Logf("stderr:\n%s", r.Stderr)
			for _, want := range []string{"error: Forbidden: ", `"other"`, `"get applications/` + sub + `"`, "ferry-view",
				"kubectl auth can-i get applications.gitops.ferry.dev --subresource=" + sub + " -n " + ns} {
				if !strings.Contains(r.Stderr, want) {
					t.Errorf("%s as other: stderr lacks %q: %s", sub, want, r)
				}
			}
			if r.Stdout != "" {
				t.Errorf("%s as other printed to stdout: %s", sub, r)
			}
		}
	})
}

// yamlDocuments parses a multi-document YAML stream, skipping empty documents.
func yamlDocuments(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	for i, doc := range strings.Split("\n"+stream, "\n---\n") {
		var o map[string]any
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("document %d is not YAML: %v\n%s", i+1, err, doc)
		}
		if o != nil {
			objs = append(objs, o)
		}
	}
	return objs
}
