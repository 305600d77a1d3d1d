package e2e

// This file's name sorts last, so the restart runs after every other test.

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDataSurvivesRestart: Applications are kept in Ferry's storage, not in memory: after
// ferry-apiserver is killed and started again (as hack/local-up.sh --restart-ferry does), the
// Application is still there with the same uid and spec.
func TestDataSurvivesRestart(t *testing.T) {
	s := requireStack(t)
	ns := newNamespace(t, "restart")
	kubectlStdin(t, Admin, appManifest(ns, "durable", map[string]any{"source.revision": "v1.2.3"}), "apply", "-f", "-")
	before := ferryApp(t, ns, "durable")

	pidFile := filepath.Join(s.Dir, "pids", "ferry-apiserver.pid")
	oldPid := readPid(t, pidFile)
	if err := syscall.Kill(oldPid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill ferry-apiserver (pid %d): %v", oldPid, err)
	}
	eventually(t, 10*time.Second, "ferry-apiserver is gone", func() (bool, string) {
		return !pidAlive(oldPid), "pid still alive"
	})
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
