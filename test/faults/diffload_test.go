package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// ferryMetric reads one unlabelled metric of ferry-apiserver's /metrics.
func ferryMetric(t *testing.T, name string) float64 {
	t.Helper()
	hc, err := ferryHTTPS()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.1:"+stack.Env["FERRY_PORT"]+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+stack.Token("admin"))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	v, ok := metricValue(t, resp.Body, name)
	if !ok {
		t.Fatalf("no metric %s in ferry-apiserver's /metrics (%s)", name, resp.Status)
	}
	return v
}

// procStatus reads a field of /proc/<pid>/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// TestConcurrentDiffsAreAnsweredOrShed: 200 /diff requests at once over 10 Applications of 20
// objects (each a server-side dry run of every object) are all answered — 200, or 429/504 when
// the servers shed load — and ferry-apiserver's goroutines return to where they were.
func TestConcurrentDiffsAreAnsweredOrShed(t *testing.T) {
	requireStack(t)
	const apps, objects, requests = 10, 20, 200
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("diffload")
	files := map[string]string{}
	for i := 0; i < apps; i++ {
		for j := 0; j < objects; j++ {
			files[fmt.Sprintf("apps/app-%03d/cm-%02d.yaml", i, j)] = configMap(fmt.Sprintf("app-%03d-cm-%02d", i, j), "v1")
		}
	}
	sha := repo.Commit("main", files, "10 apps of 20 ConfigMaps")
	ns := newNamespace(t, "diffload")
	names := createApps(t, ns, repo.URL(), apps, time.Minute)
	waitAllSynced(t, ns, sha, apps, 3*time.Minute)

	pid, err := stack.Pid("ferry-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	goroutinesBefore := ferryMetric(t, "go_goroutines")
	rssBefore := procStatus(t, pid, "VmRSS")
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < requests; i++ {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// No retries: the test counts the server's first answer, which client-go would
			// otherwise retry after a 429's or 504's Retry-After until its own timeout.
			err := ferry.GitopsV1alpha1().RESTClient().Get().Namespace(ns).Resource("applications").Name(name).SubResource("diff").MaxRetries(0).Do(ctx).Error()
			outcome := "200"
			switch {
			case err == nil:
			case apierrors.IsTooManyRequests(err):
				outcome = "429"
			case apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err):
				outcome = "504"
			default:
				outcome = "other: " + err.Error()
			}
			mu.Lock()
			counts[outcome]++
			mu.Unlock()
		}(names[i%apps])
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)
	peak := procStatus(t, pid, "VmRSS")
	for outcome, c := range counts {
		if strings.HasPrefix(outcome, "other") {
			t.Errorf("%d /diff requests ended otherwise than 200, 429 or 504: %s", c, outcome)
		}
	}
	var goroutinesAfter float64
	eventually.Until(t, time.Minute, 500*time.Millisecond, "ferry-apiserver's goroutines back to where they were", func() (bool, string) {
		goroutinesAfter = ferryMetric(t, "go_goroutines")
		return goroutinesAfter <= goroutinesBefore*1.2+20, fmt.Sprintf("%.0f goroutines, %.0f before", goroutinesAfter, goroutinesBefore)
	})
	t.Logf("%d concurrent /diff requests answered in %s: %v; ferry-apiserver: %.0f goroutines before, %.0f after; RSS %d MiB before, %d MiB right after, peak since start %d MiB",
		requests, took.Round(time.Millisecond), counts, goroutinesBefore, goroutinesAfter, rssBefore>>20, peak>>20, procStatus(t, pid, "VmHWM")>>20)
}
