// Command bench measures Ferry on the local control plane of hack/: the gitops.ferry.dev API
// side by side with the same Application stored as a CRD (the way Argo CD and Flux store their
// objects), and the controller syncing hundreds of Applications from one Git monorepo.
//
//	go run ./bench                  # short sizes (make bench), a few minutes
//	go run ./bench -full            # full sizes (make bench-full)
//	go run ./bench -reuse ~/.local/share/ferry/dev   # use a running make dev-up stack
//	go run ./bench -scenarios ui -ui-apps 10000      # the web UI in headless chromium
//
// It prints a table and writes the results as JSON (-out). Timings are medians over -repeats
// runs; where there is a baseline the ratio is measured in the same run. bench/BENCHMARKS.md
// explains each figure.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// config is what to measure and how big.
type config struct {
	// APISizes are the numbers of Applications (and of custom resources) of the API scenario.
	APISizes []int
	// ControllerSizes are the numbers of Applications of the controller scenario.
	ControllerSizes []int
	// ObjectsPerApp is how many objects each Application of the controller scenario manages.
	ObjectsPerApp int
	// DiffObjects is the size of the Application whose /diff latency is measured.
	DiffObjects int
	// UIApps is the number of Applications the ui scenario lists in the web UI.
	UIApps int
	// Scenarios to run: api, controller, controller-kustomize, controller-2clusters, ui.
	Scenarios map[string]bool
	// Repeats is how many times each timed read runs; the median is reported.
	Repeats int
	// Gets, WatchEvents, DriftEdits and DiffRequests are sample counts for latency percentiles.
	Gets, WatchEvents, DriftEdits, DiffRequests int
	// Concurrency of creates and status writes.
	Concurrency int
	// Idle is how long the idle cost is measured.
	Idle time.Duration
	// Workers is ferry-apiserver's --controller-workers for the controller scenario.
	Workers int
	// Reuse is the directory of a running stack (FERRY_DEV_DIR); empty starts a new one.
	Reuse string
	// ProfileDir, when set, receives a CPU profile of ferry-apiserver during the controller
	// scenario's initial sync.
	ProfileDir string
	// FerryEnv are environment variables for ferry-apiserver alone (GOMEMLIMIT=...).
	FerryEnv []string
	// Timeout bounds each wait for the controller.
	Timeout time.Duration
	// Interval is the Applications' spec.syncPolicy.interval; zero leaves Ferry's default.
	Interval time.Duration

	log io.Writer
}

func shortConfig() config {
	return config{
		APISizes: []int{1000}, ControllerSizes: []int{100}, ObjectsPerApp: 10, DiffObjects: 100, UIApps: 10000,
		Scenarios: map[string]bool{"api": true, layoutPlain: true, layoutKustomize: true},
		Repeats:   5, Gets: 500, WatchEvents: 200, DriftEdits: 20, DiffRequests: 30,
		Concurrency: 16, Idle: 30 * time.Second, Workers: 8, Timeout: 10 * time.Minute,
		log: os.Stderr,
	}
}

func fullConfig() config {
	c := shortConfig()
	c.APISizes = []int{1000, 10000}
	c.ControllerSizes = []int{100, 1000}
	c.Gets, c.WatchEvents, c.DriftEdits, c.DiffRequests = 1000, 500, 100, 100
	c.Idle = time.Minute
	c.Timeout = 20 * time.Minute
	return c
}

func main() {
	full := flag.Bool("full", false, "full sizes: 1,000 and 10,000 Applications for the API, 100 and 1,000 for the controller (make bench-full)")
	reuse := flag.String("reuse", "", "use the stack running in this FERRY_DEV_DIR (make dev-up's) instead of starting one; its ferry-apiserver is restarted")
	out := flag.String("out", "bench/results.json", "where to write the results as JSON")
	scenarios := flag.String("scenarios", "api,controller,controller-kustomize", "scenarios to run: api, controller (plain manifests), controller-kustomize (overlays of one shared base), controller-2clusters (half the Applications on a second cluster; not run by default), ui (the web UI in headless chromium; not run by default), webhook (a signed push to a Receiver refreshes the Applications it touches, at the controller's sizes; not run by default)")
	apiSizes := flag.String("api-sizes", "", "override the API scenario's sizes, e.g. 500,5000")
	ctrlSizes := flag.String("controller-sizes", "", "override the controller scenario's sizes, e.g. 50,200")
	uiApps := flag.Int("ui-apps", 0, "how many Applications the ui scenario lists (default 10,000)")
	workers := flag.Int("workers", 0, "ferry-apiserver --controller-workers for the controller scenario (default 8)")
	idle := flag.Duration("idle", 0, "how long the idle cost is measured (default 30s, 1m with -full)")
	interval := flag.Duration("interval", 0, "spec.syncPolicy.interval of the controller scenario's Applications (default: Ferry's, 3m)")
	var ferryEnv stringList
	flag.Var(&ferryEnv, "ferry-env", "an environment variable for ferry-apiserver alone, such as GOMEMLIMIT=250MiB (repeatable)")
	peerTools := flag.String("peers", "", "instead of the scenarios, run the same workload with each of these tools in turn and the floor, side by side (ferry,flux,argocd; make bench-peers)")
	peerSizes := flag.String("peer-sizes", "100,1000", "with -peers: the numbers of apps")
	peerLayouts := flag.String("peer-layouts", "plain,kustomize,helm", "with -peers: the layouts of the workload (plain, kustomize: a monorepo; helm: a chart in a Helm repository)")
	peerHelmSizes := flag.String("peer-helm-sizes", "100", "with -peers: the numbers of apps of the helm layout")
	peerIdle := flag.Duration("peer-idle", 2*time.Minute, "with -peers: how long each tool's idle CPU is measured")
	peerIdleLayouts := flag.String("peer-idle-layouts", "plain", "with -peers: the layouts whose idle CPU is measured, at each one's largest size (kustomize's differs from plain's only by the cached render)")
	peerKeepLogs := flag.Bool("peer-keep-logs", false, "with -peers: keep the peers' logs (kept anyway after a failure)")
	peerFluxInterval := flag.Duration("peer-flux-interval", 2*time.Minute, "with -peers: spec.interval of Flux's GitRepository and Kustomizations (Flux heals a hand edit at the next one)")
	peerOut := flag.String("peer-out", "bench/results-peers.json", "with -peers: where to write the results as JSON")
	profile := flag.String("profile", "", "write CPU and heap profiles of ferry-apiserver, and a CPU profile of kube-apiserver, during the controller's initial sync into this directory")
	flag.Parse()

	if *peerTools != "" {
		runPeersMain(peerConfig{Idle: *peerIdle, FluxInterval: *peerFluxInterval, Workers: *workers, KeepLogs: *peerKeepLogs},
			*peerTools, *peerSizes, *peerHelmSizes, *peerLayouts, *peerIdleLayouts, *peerOut)
		return
	}

	cfg := shortConfig()
	if *full {
		cfg = fullConfig()
	}
	cfg.Reuse, cfg.ProfileDir, cfg.FerryEnv = *reuse, *profile, ferryEnv
	if *workers > 0 {
		cfg.Workers = *workers
	}
	if *idle > 0 {
		cfg.Idle = *idle
	}
	cfg.Interval = *interval
	if *uiApps > 0 {
		cfg.UIApps = *uiApps
	}
	var err error
	if *apiSizes != "" {
		if cfg.APISizes, err = parseSizes(*apiSizes); err != nil {
			fail(fmt.Errorf("-api-sizes: %w", err))
		}
	}
	if *ctrlSizes != "" {
		if cfg.ControllerSizes, err = parseSizes(*ctrlSizes); err != nil {
			fail(fmt.Errorf("-controller-sizes: %w", err))
		}
	}
	cfg.Scenarios = map[string]bool{}
	for _, s := range strings.Split(*scenarios, ",") {
		switch s = strings.TrimSpace(s); s {
		case "api", layoutPlain, layoutKustomize, scenarioTwoClusters, "ui", scenarioWebhook:
			cfg.Scenarios[s] = true
		default:
			fail(fmt.Errorf("-scenarios: unknown scenario %q (api, controller, controller-kustomize, controller-2clusters, ui, webhook)", s))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := run(ctx, cfg)
	if report != nil {
		report.Command = "go run ./bench " + strings.Join(os.Args[1:], " ")
		report.print(os.Stdout)
		if werr := report.write(*out); werr != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", werr)
		} else {
			fmt.Fprintf(os.Stderr, "bench: results written to %s\n", *out)
		}
	}
	if err != nil {
		fail(err)
	}
}

// parseLayouts reads a comma-separated list of layouts given to flag.
func parseLayouts(flag, list string) []string {
	var layouts []string
	for _, l := range strings.Split(list, ",") {
		switch l = strings.TrimSpace(l); l {
		case mttpPlain, mttpKustomize, mttpHelm:
			layouts = append(layouts, l)
		case "":
		default:
			fail(fmt.Errorf("%s: unknown layout %q (plain, kustomize, helm)", flag, l))
		}
	}
	return layouts
}

// runPeersMain is go run ./bench -peers: parses its flags, runs, prints and writes the results.
func runPeersMain(cfg peerConfig, tools, sizes, helmSizes, layouts, idleLayouts string, out string) {
	cfg.Timeout, cfg.log = 20*time.Minute, os.Stderr
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	for _, t := range strings.Split(tools, ",") {
		switch t = strings.TrimSpace(t); t {
		case toolFerry, toolFlux, toolArgoCD:
			cfg.Tools = append(cfg.Tools, t)
		case toolFloor, "":
		default:
			fail(fmt.Errorf("-peers: unknown tool %q (ferry, flux, argocd; the floor always runs)", t))
		}
	}
	var err error
	if cfg.Sizes, err = parseSizes(sizes); err != nil {
		fail(fmt.Errorf("-peer-sizes: %w", err))
	}
	if cfg.HelmSizes, err = parseSizes(helmSizes); err != nil {
		fail(fmt.Errorf("-peer-helm-sizes: %w", err))
	}
	if cfg.Layouts = parseLayouts("-peer-layouts", layouts); len(cfg.Layouts) == 0 {
		fail(errors.New("-peer-layouts: no layout (plain, kustomize, helm)"))
	}
	cfg.IdleLayouts = parseLayouts("-peer-idle-layouts", idleLayouts)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := runPeers(ctx, cfg)
	if report != nil {
		report.Command = "go run ./bench " + strings.Join(os.Args[1:], " ")
		report.print(os.Stdout)
		if werr := report.write(out); werr != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", werr)
		} else {
			fmt.Fprintf(os.Stderr, "bench: results written to %s\n", out)
		}
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "bench: %v\n", err)
	os.Exit(1)
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// bench is a run's shared state: the stack, the ferry-apiserver binary, the report.
type bench struct {
	cfg      config
	stack    *localstack.Stack
	ferryBin string
	report   *Report
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.log, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run brings the stack up (or attaches to one), runs the scenarios and returns what they
// measured, also when one of them failed part-way.
func run(ctx context.Context, cfg config) (*Report, error) {
	b := &bench{cfg: cfg, report: newReport()}
	tmp, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	root, err := localstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	b.ferryBin = filepath.Join(tmp, "ferry-apiserver")
	b.logf("building ferry-apiserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", b.ferryBin, "./cmd/ferry-apiserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/ferry-apiserver: %v\n%s", err, out)
	}

	// The API scenario measures storage and serving alone: the controller is off.
	apiArgs := []string{"--controller=false"}
	if cfg.Reuse != "" {
		b.logf("attaching to the stack in %s and restarting its ferry-apiserver", cfg.Reuse)
		if b.stack, err = localstack.Attach(cfg.Reuse); err != nil {
			return nil, err
		}
		if err := b.stack.RestartFerry(b.ferryBin, apiArgs...); err != nil {
			return nil, err
		}
		// Leave the stack as make dev-up runs it.
		defer func() {
			b.logf("restarting ferry-apiserver with its usual flags")
			if err := b.stack.RestartFerry(b.ferryBin); err != nil {
				b.logf("%v", err)
			}
		}()
	} else {
		b.logf("starting a local control plane (etcd, kube-apiserver, kube-controller-manager, ferry-apiserver); the first run builds kube-apiserver v1.37.2, ~25 min")
		// kube-apiserver serves /debug/pprof only when profiles are asked for. No Node: the figures
		// stay comparable with those recorded before the stack ran Pods.
		if b.stack, err = localstack.Start(localstack.Options{FerryBin: b.ferryBin, FerryArgs: apiArgs, FerryEnv: cfg.FerryEnv, Profiling: cfg.ProfileDir != "", NoNode: true}); err != nil {
			return nil, err
		}
		defer b.stack.Stop()
	}
	b.report.describe(ctx, b.stack)

	if cfg.Scenarios["api"] {
		for _, n := range cfg.APISizes {
			if err := b.apiScenario(ctx, n); err != nil {
				return b.report, fmt.Errorf("API scenario with %d Applications: %w", n, err)
			}
		}
	}
	if cfg.Scenarios["ui"] {
		if err := b.uiScenario(ctx, cfg.UIApps); err != nil {
			return b.report, fmt.Errorf("ui scenario with %d Applications: %w", cfg.UIApps, err)
		}
	}
	type controllerRun struct {
		layout string
		n      int
	}
	var runs []controllerRun
	for _, layout := range []string{layoutPlain, layoutKustomize} {
		if cfg.Scenarios[layout] {
			for _, n := range cfg.ControllerSizes {
				runs = append(runs, controllerRun{layout, n})
			}
		}
	}
	for i, r := range runs {
		if err := b.controllerScenario(ctx, r.n, r.layout, i == len(runs)-1 && !cfg.Scenarios[scenarioTwoClusters]); err != nil {
			return b.report, fmt.Errorf("%s scenario with %d Applications: %w", r.layout, r.n, err)
		}
	}
	if cfg.Scenarios[scenarioTwoClusters] {
		for _, n := range cfg.ControllerSizes {
			if err := b.twoClusterScenario(ctx, n); err != nil {
				return b.report, fmt.Errorf("%s scenario with %d Applications: %w", scenarioTwoClusters, n, err)
			}
		}
	}
	if cfg.Scenarios[scenarioWebhook] {
		for _, n := range cfg.ControllerSizes {
			if err := b.webhookScenario(ctx, n); err != nil {
				return b.report, fmt.Errorf("%s scenario with %d Applications: %w", scenarioWebhook, n, err)
			}
		}
	}
	return b.report, nil
}

// Report is what a run measured, with where and how.
type Report struct {
	Date     string            `json:"date"`
	Command  string            `json:"command"`
	Machine  map[string]string `json:"machine"`
	Versions map[string]string `json:"versions"`
	Rows     []Row             `json:"results"`
}

// Row is one figure: a metric of a scenario at a size, per variant (ferry-protobuf, ferry-json,
// crd, or ferry alone), with the baseline's ratio where there is one.
type Row struct {
	Scenario string             `json:"scenario"`
	Metric   string             `json:"metric"`
	Size     int                `json:"size"`
	Unit     string             `json:"unit"`
	Values   map[string]float64 `json:"values"`
	// Ratio is how many times better Ferry's best variant is than the CRD: baseline/ferry for
	// durations and sizes, ferry/baseline for throughputs.
	Ratio float64 `json:"ratio,omitempty"`
	// Target is the goal from the performance targets, when there is one.
	Target string `json:"target,omitempty"`
	Note   string `json:"note,omitempty"`
}

func newReport() *Report {
	return &Report{
		Date:     time.Now().UTC().Format(time.RFC3339),
		Machine:  map[string]string{"cores": strconv.Itoa(runtime.NumCPU()), "os": runtime.GOOS + "/" + runtime.GOARCH},
		Versions: map[string]string{"go": runtime.Version()},
	}
}

// describe records the machine and the versions of what runs.
func (r *Report) describe(ctx context.Context, s *localstack.Stack) {
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					r.Machine["memory"] = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	if out, err := exec.CommandContext(ctx, s.Kubectl(), "--kubeconfig", s.Kubeconfig(), "version", "-o", "json").Output(); err == nil {
		var v struct {
			Server struct{ GitVersion string } `json:"serverVersion"`
		}
		if json.Unmarshal(out, &v) == nil {
			r.Versions["kube-apiserver"] = v.Server.GitVersion
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", s.RepoRoot, "describe", "--always", "--dirty").Output(); err == nil {
		r.Versions["ferry"] = strings.TrimSpace(string(out))
	}
}

// add records a figure.
func (r *Report) add(row Row) { r.Rows = append(r.Rows, row) }

func (r *Report) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// variants are the columns of the table, in order.
var variants = []string{"ferry-protobuf", "ferry-json", "crd", "ferry"}

func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "\nFerry benchmarks, %s, %s cores, %s; %s\n", r.Date, r.Machine["cores"], r.Machine["memory"], r.Command)
	tw := newTable(w, "SCENARIO", "METRIC", "N", "UNIT", "FERRY-PROTOBUF", "FERRY-JSON", "CRD", "FERRY", "CRD/FERRY", "TARGET")
	for _, row := range r.Rows {
		cells := []string{row.Scenario, row.Metric, strconv.Itoa(row.Size), row.Unit}
		for _, v := range variants {
			if x, ok := row.Values[v]; ok {
				cells = append(cells, formatValue(x))
			} else {
				cells = append(cells, "-")
			}
		}
		ratio := "-"
		if row.Ratio != 0 {
			ratio = fmt.Sprintf("%.2fx", row.Ratio)
		}
		tw.row(append(cells, ratio, row.Target)...)
	}
	tw.flush()
}

func formatValue(x float64) string {
	switch {
	case x == float64(int64(x)):
		return strconv.FormatInt(int64(x), 10)
	case x >= 100:
		return fmt.Sprintf("%.0f", x)
	case x >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.3g", x)
	}
}

// table writes aligned columns.
type table struct {
	w    io.Writer
	rows [][]string
}

func newTable(w io.Writer, header ...string) *table { return &table{w: w, rows: [][]string{header}} }

func (t *table) row(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) flush() {
	widths := make([]int, len(t.rows[0]))
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len(c)))
			}
		}
		fmt.Fprintln(t.w, b.String())
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}
