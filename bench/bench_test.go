package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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

// TestPeersSmoke runs the side-by-side driver (go run ./bench -peers) at 5 apps per tool, in the
// plain and helm layouts, so it cannot rot: Ferry, Flux and Argo CD each sync the workload,
// follow a commit (a new chart version for helm) and heal a hand edit, and the floor applies it. It builds the peers first (hack/build-peers.sh; a
// few seconds once cached) and checks every figure is there, not how fast.
func TestPeersSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a local control plane and the peers; skipped with -short")
	}
	cfg := peerConfig{
		Tools: peerSmokeTools(), Sizes: []int{5}, HelmSizes: []int{5}, Layouts: []string{mttpPlain, mttpHelm},
		Idle: 2 * time.Second, IdleLayouts: []string{mttpPlain, mttpHelm}, FluxInterval: 15 * time.Second, Workers: 2, Timeout: 3 * time.Minute,
		log: testWriter{t},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	report, err := runPeers(ctx, cfg)
	if report != nil {
		report.print(testWriter{t})
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]PeerRow{}
	for _, row := range report.Rows {
		got[row.Layout+" "+row.Metric] = row
	}
	for _, layout := range cfg.Layouts {
		for _, metric := range metricOrder {
			row, ok := got[layout+" "+metric]
			if !ok {
				t.Errorf("%s: no row for %q", layout, metric)
				continue
			}
			tools := []string{toolFerry, toolFlux, toolArgoCD}
			if metric == mCreate || metric == mCommit || metric == mCreateAPICPU || metric == mCommitAPICPU {
				tools = append(tools, toolFloor)
			}
			for _, tool := range tools {
				v, ok := row.Values[tool]
				// Flux heals at its interval: timed at the first layout, noted at the others.
				if tool == toolFlux && metric == mHealed && layout != cfg.Layouts[0] {
					if ok || !strings.HasPrefix(row.Notes[tool], "not waited for") || !strings.Contains(row.Notes[tool], cfg.Layouts[0]) {
						t.Errorf("%s, %s: flux = %v (present %v), note %q; want no figure and where it was measured", layout, metric, v, ok, row.Notes[tool])
					}
					continue
				}
				if tool == toolFlux && metric == mReported {
					if ok || !strings.HasPrefix(row.Notes[tool], "not reported") {
						t.Errorf("%s, %s: flux = %v (present %v), note %q; want no figure and \"not reported\"", layout, metric, v, ok, row.Notes[tool])
					}
					continue
				}
				// Over the smoke's 2 s an idle process may not accrue one 10 ms tick of CPU time.
				if !ok || v < 0 || (v == 0 && metric != mIdle) {
					t.Errorf("%s, %s: %s = %v (present %v, note %q), want a positive figure", layout, metric, tool, v, ok, row.Notes[tool])
				}
			}
		}
		// Ferry renders charts in render workers, its child processes: its figures count them.
		if layout == mttpHelm && !strings.Contains(got[layout+" "+mRSS].Notes[toolFerry], "they started") {
			t.Errorf("%s: ferry's peak RSS does not count its render workers (note %q)", layout, got[layout+" "+mRSS].Notes[toolFerry])
		}
		for _, tool := range []string{toolFerry, toolFlux, toolArgoCD, toolFloor} {
			if report.Configurations[tool][configKey(layout, 5)] == nil {
				t.Errorf("no configuration recorded for %s, %s", tool, configKey(layout, 5))
			}
		}
	}
	for _, v := range []string{"ferry", "kube-apiserver", "source-controller", "kustomize-controller", "helm-controller", "argocd", "redis", "helm"} {
		if report.Versions[v] == "" {
			t.Errorf("no version recorded for %s", v)
		}
	}
	// The report says where the run's time went: a turn per tool and layout, in the order run.
	var want, turns []string
	var sum float64
	for _, layout := range cfg.Layouts {
		for _, tool := range append(slices.Clone(cfg.Tools), toolFloor) {
			want = append(want, tool+" "+layout)
		}
	}
	for _, turn := range report.Turns {
		turns = append(turns, turn.Tool+" "+turn.Layout)
		if turn.Seconds <= 0 {
			t.Errorf("turn %+v: no time", turn)
		}
		sum += turn.Seconds
	}
	if !slices.Equal(turns, want) {
		t.Errorf("turns %q, want %q", turns, want)
	}
	if report.Elapsed < sum {
		t.Errorf("the run took %.1f s, less than its turns' %.1f s", report.Elapsed, sum)
	}
	if err := report.write(filepath.Join(t.TempDir(), "results-peers.json")); err != nil {
		t.Fatal(err)
	}
}

// peerSmokeTools are the tools TestPeersSmoke runs: FERRY_BENCH_PEERS (comma-separated) or all.
func peerSmokeTools() []string {
	if s := os.Getenv("FERRY_BENCH_PEERS"); s != "" {
		return strings.Split(s, ",")
	}
	return []string{toolFerry, toolFlux, toolArgoCD}
}
