package faults

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// soakSample is what the soak watches for growth.
type soakSample struct {
	at         time.Duration
	goroutines float64
	openFiles  int
	rss        int64
	etcdBytes  float64
}

// etcdDBSize is the stack's etcd database size, from its /metrics.
func etcdDBSize(t *testing.T) float64 {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + stack.Env["ETCD_PORT"] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	v, ok := metricValue(t, resp.Body, "etcd_mvcc_db_total_size_in_bytes")
	if !ok {
		t.Fatal("no etcd_mvcc_db_total_size_in_bytes in etcd's /metrics")
	}
	return v
}

func openFiles(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// envOr reads a soak setting from the environment (make soak sets them).
func envOr(t *testing.T, name, fallback string) string {
	t.Helper()
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// TestSoak runs Applications for a while with a commit every tick and random hand edits between
// (undone by selfHeal), and checks that ferry-apiserver does not grow: goroutines and open files
// flat, memory bounded. It prints what it sampled. FERRY_SOAK_DURATION (default 5m),
// FERRY_SOAK_APPS (default 200) and FERRY_SOAK_TICK (default 30s) set its size; `make soak`
// runs 1,000 Applications for 30 minutes with a commit a minute.
func TestSoak(t *testing.T) {
	requireStack(t)
	duration, err := time.ParseDuration(envOr(t, "FERRY_SOAK_DURATION", "5m"))
	if err != nil {
		t.Fatal(err)
	}
	tick, err := time.ParseDuration(envOr(t, "FERRY_SOAK_TICK", "30s"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(envOr(t, "FERRY_SOAK_APPS", "200"))
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("soak")
	sha := repo.Commit("main", appFiles(n, "v0"), "v0")
	ns := newNamespace(t, "soak")
	createApps(t, ns, repo.URL(), n, 10*time.Second)
	waitAllSynced(t, ns, sha, n, 10*time.Minute)
	pid, err := stack.Pid("ferry-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	sample := func(at time.Duration) soakSample {
		return soakSample{at: at, goroutines: ferryMetric(t, "go_goroutines"), openFiles: openFiles(t, pid), rss: procStatus(t, pid, "VmRSS"), etcdBytes: etcdDBSize(t)}
	}
	start := time.Now()
	samples := []soakSample{sample(0)}
	edits := 0
	for round := 1; time.Since(start)+tick <= duration; round++ {
		deadline := time.Now().Add(tick)
		value := fmt.Sprintf("v%d", round)
		sha = repo.Commit("main", appFiles(n, value), value)
		// Hand edits while the commit rolls out, which selfHeal undoes.
		for i := 0; i < 5; i++ {
			name := fmt.Sprintf("app-%03d-settings", rand.IntN(n))
			if _, err := kube.CoreV1().ConfigMaps(ns).Patch(context.Background(), name, types.MergePatchType, []byte(`{"data":{"value":"by hand"}}`), metav1.PatchOptions{}); err == nil {
				edits++
			}
		}
		<-time.After(time.Until(deadline)) // the soak's pace, not a wait for anything
		samples = append(samples, sample(time.Since(start)))
	}
	took := waitAllSynced(t, ns, sha, n, 5*time.Minute)
	waitLiveValues(t, ns, n, fmt.Sprintf("v%d", len(samples)-1), 2*time.Minute)
	samples = append(samples, sample(time.Since(start)))

	var table strings.Builder
	fmt.Fprintf(&table, "%d Applications, %s, a commit every %s, %d hand edits; all Synced at the last commit %s after it\n", n, duration, tick, edits, took.Round(time.Second))
	fmt.Fprintf(&table, "%10s %11s %11s %9s %10s\n", "time", "goroutines", "open files", "RSS MiB", "etcd MiB")
	for _, s := range samples {
		fmt.Fprintf(&table, "%10s %11.0f %11d %9d %10.1f\n", s.at.Round(time.Second), s.goroutines, s.openFiles, s.rss>>20, s.etcdBytes/(1<<20))
	}
	t.Log("\n" + table.String())

	// Flat: the last sample against the one after the first round (the first reconciles of a
	// commit warm caches up).
	if len(samples) < 3 {
		t.Fatalf("only %d samples: the soak was too short to say anything", len(samples))
	}
	ref, last := samples[1], samples[len(samples)-1]
	if last.goroutines > ref.goroutines*1.25+25 {
		t.Errorf("goroutines grew from %.0f to %.0f", ref.goroutines, last.goroutines)
	}
	if last.openFiles > ref.openFiles*5/4+25 {
		t.Errorf("open files grew from %d to %d", ref.openFiles, last.openFiles)
	}
	if last.rss > ref.rss*2 {
		t.Errorf("RSS grew from %d MiB to %d MiB", ref.rss>>20, last.rss>>20)
	}
}
