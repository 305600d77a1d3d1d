package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestDataSurvivesRestart: Applications are kept in Ferry's storage, not in memory: after
// ferry-apiserver is killed and started again (as hack/local-up.sh --restart-ferry does), the
// Application is still there with the same uid and spec.
//
// A sync that was running when Ferry died is executed again after the restart, never left
// Running.
func TestDataSurvivesRestart(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "restart")
	kubectlStdin(t, Admin, appManifest(ns, "durable", map[string]any{"source.revision": "v1.2.3"}), "apply", "-f", "-")
	before := ferryApp(t, ns, "durable")

	// A manual Application whose sync hangs in the middle of a Git fetch when Ferry is killed.
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("midsync")
	sha := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("midsync", "v1")}, "c")
	kubectlStdin(t, Admin, gitApp(ns, "midsync", repo, "app", ns, map[string]any{"syncPolicy.automated": nil}), "apply", "-f", "-")
	waitApp(t, ns, "midsync", "manual app compared", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.SourceRevision == sha
	})
	srv.SetDelay(time.Hour)
	// Force a fetch: a sync to a commit the cache has not seen.
	sha2 := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("midsync", "v2")}, "c2")
	kubectlStdin(t, Admin, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationSync","spec":{"revision":"`+sha2+`"}}`,
		"create", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/midsync/sync", "-f", "-")
	waitApp(t, ns, "midsync", "the sync is Running", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Operation != nil && a.Status.Operation.Phase == gitopsv1alpha1.OperationRunning
	})

	pidFile := filepath.Join(s.Dir, "pids", "ferry-apiserver.pid")
	oldPid := readPid(t, pidFile)
	// The tests after this one need Ferry, whatever happens here: start it again should the
	// test stop while it is down.
	t.Cleanup(func() {
		if pidAlive(readPid(t, pidFile)) {
			return
		}
		if err := s.RestartFerry(s.FerryBin, ferryArgs...); err != nil {
			t.Errorf("restarting ferry-apiserver for the tests after this one: %v", err)
		}
	})
	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill ferry-apiserver (pid %d): %v", oldPid, err)
	}
	eventually(t, 10*time.Second, "ferry-apiserver is gone", func() (bool, string) {
		return !pidAlive(oldPid), "pid still alive"
	})
	srv.SetDelay(0) // Git answers again by the time Ferry is back
	// Users notice: the API is unavailable while Ferry is down.
	eventually(t, 15*time.Second, "kubectl get applications fails while Ferry is down", func() (bool, string) {
		r := s.Run(Admin, "", "get", "applications", "-n", ns)
		return r.Err != nil, r.String()
	})

	var out bytes.Buffer
	start := time.Now()
	err := s.script(3*time.Minute, &out, []string{"FERRY_DEV_DIR=" + s.Dir, "FERRY_APISERVER_BIN=" + s.FerryBin},
		"hack/local-up.sh", "--restart-ferry")
	if err != nil {
		t.Fatalf("hack/local-up.sh --restart-ferry: %v\n%s", err, out.String())
	}
	t.Logf("ferry-apiserver restarted in %s", time.Since(start).Round(time.Millisecond))
	if newPid := readPid(t, pidFile); newPid == oldPid || !pidAlive(newPid) {
		t.Fatalf("after --restart-ferry the pid file says %d (was %d), alive %v", newPid, oldPid, pidAlive(newPid))
	}
	eventually(t, 30*time.Second, "APIService Available again", func() (bool, string) { return apiServiceAvailable(s) })

	var got string
	eventually(t, 30*time.Second, "kubectl get application durable", func() (bool, string) {
		r := s.Run(Admin, "", "get", "application", "durable", "-n", ns, "-o", "jsonpath={.metadata.uid} {.spec.source.revision}")
		got = r.Stdout
		return r.Err == nil, r.String()
	})
	if want := string(before.UID) + " v1.2.3"; got != want {
		t.Errorf("after the restart uid and revision = %q, want %q", got, want)
	}

	app := waitApp(t, ns, "midsync", "the interrupted sync finished after the restart", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Operation != nil && (a.Status.Operation.Phase == gitopsv1alpha1.OperationSucceeded || a.Status.Operation.Phase == gitopsv1alpha1.OperationFailed)
	})
	if app.Status.Operation.Phase != gitopsv1alpha1.OperationSucceeded || app.Status.Sync.Revision != sha2 {
		t.Errorf("interrupted sync: %s", describeApp(app))
	}
	if v, _ := configMapValue(t, ns, "midsync"); v != "v2" {
		t.Errorf("after the resumed sync midsync = %q, want v2", v)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}
