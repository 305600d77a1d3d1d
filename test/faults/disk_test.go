package faults

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// smallDisk mounts a tmpfs of size bytes for the test, or skips the test where this process may
// not mount (it needs root).
func smallDisk(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount a small tmpfs for the Git cache (%v: %s): this scenario needs root", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("unmounting %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestGitCacheDiskFull: the disk under a ferry-apiserver's Git cache is full. Its Application
// fails with a condition that names the full disk and what to do; the server keeps running;
// once space returns, the Application syncs with no action.
func TestGitCacheDiskFull(t *testing.T) {
	requireStack(t)
	disk := smallDisk(t, 4<<20)
	// Something else took most of the disk.
	filler := filepath.Join(disk, "filler")
	if err := os.WriteFile(filler, make([]byte, 3<<20+512<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	// A ferry-apiserver of its own, with the small disk under its Git cache, storing under a
	// prefix of its own and electing its controller beside the stack's.
	r := startReplica(t, stack.EtcdURL(),
		"--git-cache-dir", disk,
		"--etcd-prefix", fmt.Sprintf("/faults-disk-%06d", rand.IntN(1000000)),
		"--leader-elect-resource-namespace", newLeaseNamespace(t))

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("disk")
	noise := make([]byte, 2<<20)
	if _, err := crand.Read(noise); err != nil {
		t.Fatal(err)
	}
	sha := repo.Commit("main", map[string]string{"app/settings.yaml": configMap("disk-settings", "v1"), "data/noise.bin": string(noise)}, "2 MiB of data")
	ns := newNamespace(t, "disk")
	app := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "disk"},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repo.URL(), Path: "app", Revision: "main"},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: ns},
			SyncPolicy:  gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.AutomatedSyncPolicy{}, Interval: &metav1.Duration{Duration: 10 * time.Second}},
		},
	}
	apps := r.client.GitopsV1alpha1().Applications(ns)
	if _, err := apps.Create(context.Background(), app, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var message string
	eventually.Until(t, 2*time.Minute, 200*time.Millisecond, "a condition naming the full disk", func() (bool, string) {
		got, err := apps.Get(context.Background(), "disk", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		message = readyMessage(got)
		return strings.Contains(message, "disk") && strings.Contains(message, "is full"), message
	})
	if !r.alive() {
		t.Fatal("ferry-apiserver exited on a full disk")
	}

	// Space returns.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	eventually.Until(t, 3*time.Minute, 500*time.Millisecond, "Synced once the disk has room", func() (bool, string) {
		got, err := apps.Get(context.Background(), "disk", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && got.Status.Sync.Revision == sha, readyMessage(got)
	})
	t.Logf("disk full: %q; Synced %s after space returned", message, time.Since(freed).Round(time.Millisecond))
}
