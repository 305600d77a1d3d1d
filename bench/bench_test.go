package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the whole driver at a handful of Applications against a fresh local stack, so
// the benchmarks cannot rot. It checks that every scenario produced its figures, not how fast.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local control plane; skipped with -short")
	}
	cfg := config{
		APISizes: []int{20}, ControllerSizes: []int{4}, ObjectsPerApp: 10, DiffObjects: 10,
		Scenarios: map[string]bool{"api": true, layoutPlain: true, layoutKustomize: true},
		Repeats:   1, Gets: 10, WatchEvents: 5, DriftEdits: 4, DiffRequests: 2,
		Concurrency: 4, Idle: 2 * time.Second, Workers: 2, Timeout: 3 * time.Minute,
		Reuse: os.Getenv("FERRY_BENCH_REUSE"),
		log:   testWriter{t},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	report, err := run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Row{}
	for _, row := range report.Rows {
		got[row.Scenario+"/"+row.Metric] = row
	}
	for _, want := range []struct {
		key      string
		variants []string
	}{
		{"api/create throughput", []string{"ferry-protobuf", "crd"}},
		{"api/LIST all, fetch+decode (median)", []string{"ferry-protobuf", "ferry-json", "crd"}},
		{"api/LIST in pages of 500 (median)", []string{"ferry-protobuf", "ferry-json", "crd"}},
		{"api/GET p99", []string{"ferry-protobuf", "ferry-json", "crd"}},
		{"api/WATCH event delay p99", []string{"ferry-protobuf", "ferry-json", "crd"}},
		{"api/kubectl get -A wall time (median)", []string{"ferry", "crd"}},
		{"controller/create all -> all Synced", []string{"ferry"}},
		{"controller/ferry-apiserver peak RSS", []string{"ferry"}},
		{"controller/drift -> OutOfSync p99", []string{"ferry"}},
		{"controller/drift -> self-healed p99", []string{"ferry"}},
		{"controller/commit touching all paths -> applied everywhere", []string{"ferry"}},
		{"controller//diff p99", []string{"ferry"}},
		{"controller-kustomize/create all -> all Synced", []string{"ferry"}},
		{"controller-kustomize/drift -> self-healed p99", []string{"ferry"}},
		{"controller-kustomize/commit touching all paths -> applied everywhere", []string{"ferry"}},
	} {
		row, ok := got[want.key]
		if !ok {
			t.Errorf("no figure for %s", want.key)
			continue
		}
		for _, v := range want.variants {
			// A latency may round to 0 (a watch event can beat the write's response); nothing
			// measured is negative.
			if x, ok := row.Values[v]; !ok || x < 0 || (x == 0 && !strings.Contains(want.key, "WATCH")) {
				t.Errorf("%s: %s = %v (present %v), want a positive figure", want.key, v, x, ok)
			}
		}
	}
	for _, scenario := range []string{layoutPlain, layoutKustomize} {
		if row := got[scenario+"/Git fetches for that commit"]; row.Values["ferry"] != 1 {
			t.Errorf("%s: the commit touching every path took %v fetches, want 1 shared by all Applications", scenario, row.Values["ferry"])
		}
	}
	if _, ok := got["controller/idle status writes"]; !ok {
		t.Error("no figure for the idle status writes")
	}
	out := filepath.Join(t.TempDir(), "results.json")
	if err := report.write(out); err != nil {
		t.Fatal(err)
	}
	report.print(testWriter{t})
}

// testWriter sends the driver's progress to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
