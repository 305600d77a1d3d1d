package faults

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
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
	// rssAnon is the part of rss that is not the binary's pages (which the kernel maps in as
	// code runs, up to the binary's size, and may drop at any time); heap is the Go heap in
	// use. Together they tell a leak from a warming cache.
	rssAnon   int64
	heap      float64
	etcdBytes float64
}

// etcdDBSize is the stack's etcd database size, from its /metrics.
func etcdDBSize(t *testing.T) float64 {
	t.Helper()
	client, err := stack.EtcdHTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(stack.EtcdURL() + "/metrics")
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
		return soakSample{at: at, goroutines: ferryMetric(t, "go_goroutines"), openFiles: openFiles(t, pid),
			rss: procStatus(t, pid, "VmRSS"), rssAnon: procStatus(t, pid, "RssAnon"), heap: ferryMetric(t, "go_memstats_heap_inuse_bytes"),
			etcdBytes: etcdDBSize(t)}
	}
	start := time.Now()
	samples := []soakSample{sample(0)}
	saveHeapProfile(t, "start")
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
		if round == 1 {
			saveHeapProfile(t, "round-1")
		}
	}
	took := waitAllSynced(t, ns, sha, n, 5*time.Minute)
	waitLiveValues(t, ns, n, fmt.Sprintf("v%d", len(samples)-1), 2*time.Minute)
	samples = append(samples, sample(time.Since(start)))
	saveHeapProfile(t, "end")

	var table strings.Builder
	fmt.Fprintf(&table, "%d Applications, %s, a commit every %s, %d hand edits; all Synced at the last commit %s after it\n", n, duration, tick, edits, took.Round(time.Second))
	fmt.Fprintf(&table, "%10s %11s %11s %9s %14s %14s %10s\n", "time", "goroutines", "open files", "RSS MiB", "anon RSS MiB", "Go heap MiB", "etcd MiB")
	for _, s := range samples {
		fmt.Fprintf(&table, "%10s %11.0f %11d %9d %14d %14.1f %10.1f\n", s.at.Round(time.Second), s.goroutines, s.openFiles, s.rss>>20, s.rssAnon>>20, s.heap/(1<<20), s.etcdBytes/(1<<20))
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
	if last.heap > ref.heap*2 {
		t.Errorf("the Go heap in use grew from %.0f MiB to %.0f MiB", ref.heap/(1<<20), last.heap/(1<<20))
	}
}

// saveHeapProfile writes ferry-apiserver's heap profile to $FERRY_SOAK_PROFILES/heap-<name>.pb.gz
// when that is set, so that growth the soak sees can be read with `go tool pprof -base`.
func saveHeapProfile(t *testing.T, name string) {
	t.Helper()
	dir := os.Getenv("FERRY_SOAK_PROFILES")
	if dir == "" {
		return
	}
	hc, err := ferryHTTPS()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+stack.Env["FERRY_PORT"]+"/debug/pprof/heap", nil)
	req.Header.Set("Authorization", "Bearer "+stack.Token("admin"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("reading ferry-apiserver's heap profile: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reading ferry-apiserver's heap profile: %s", resp.Status)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "heap-"+name+".pb.gz")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("heap profile %s: %s", name, path)
}
