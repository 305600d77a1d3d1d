package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	waitpkg "k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ferry-gitops/ferry/bench/internal/peers"
	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts/charttest"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// The tools of the side-by-side benchmark (issue 31), in the order they run, and the floor.
const (
	toolFerry  = "ferry"
	toolFlux   = "flux"
	toolArgoCD = "argocd"
	toolFloor  = "floor"
)

// peerConfig is what the side-by-side run measures and how.
type peerConfig struct {
	// Tools are the GitOps tools to run in turn (ferry, flux, argocd); the floor always runs.
	Tools   []string
	Sizes   []int
	Layouts []string // mttpPlain, mttpKustomize, mttpHelm
	// HelmSizes are the sizes of the helm layout (the issue asks for Helm at 100 only).
	HelmSizes []int
	// Idle is how long the idle CPU is measured: at the IdleLayouts only, at each one's largest
	// size (idle work grows with the apps; two minutes a tool at every size would add 12 minutes
	// to a full run).
	Idle        time.Duration
	IdleLayouts []string
	// KeepLogs keeps the peers' logs after a run that succeeded.
	KeepLogs bool
	// FluxInterval is the Kustomizations' and the GitRepository's spec.interval: Flux corrects a
	// hand edit only at its next reconciliation.
	FluxInterval time.Duration
	// Workers is ferry-apiserver's --controller-workers and the floor's parallelism.
	Workers int
	// Timeout bounds each wait.
	Timeout time.Duration
	log     io.Writer
}

// PeerReport is a side-by-side run: per layout and size, a figure per tool, and each tool's
// exact version and configuration.
type PeerReport struct {
	Date     string            `json:"date"`
	Command  string            `json:"command"`
	Machine  map[string]string `json:"machine"`
	Versions map[string]string `json:"versions"`
	// Configurations: tool -> "<layout>, n=<size>" -> its flags, environment and objects.
	Configurations map[string]map[string]any `json:"configurations"`
	Rows           []PeerRow                 `json:"results"`
	// Elapsed is the whole run's wall time in seconds, from the start to the last clean-up,
	// builds of the peers and ferry-apiserver and the control plane's start included.
	Elapsed float64 `json:"elapsedSeconds"`
	// Turns are the run's turns in order, each from its tool's start to its clean-up's end.
	Turns []PeerTurn `json:"turns"`
}

// PeerTurn is one tool's turn at one layout and size: where a run's time goes.
type PeerTurn struct {
	Tool    string  `json:"tool"`
	Layout  string  `json:"layout"`
	Size    int     `json:"size"`
	Seconds float64 `json:"seconds"`
}

// PeerRow is one metric at one layout and size, per tool (ferry, flux, argocd, floor).
type PeerRow struct {
	Layout string             `json:"layout"`
	Size   int                `json:"size"`
	Metric string             `json:"metric"`
	Unit   string             `json:"unit"`
	Values map[string]float64 `json:"values"`
	// Notes say why a tool has no figure, or how it was triggered.
	Notes map[string]string `json:"notes,omitempty"`
	// Load1 is the machine's 1-minute load average when a timed figure was taken: on this shared
	// machine, a figure taken above 3 is not one to record.
	Load1 map[string]float64 `json:"load1,omitempty"`
}

// The metrics, in the table's order.
const (
	mCreate       = "create -> all Synced and Healthy"
	mCommit       = "commit touching every app -> all at it"
	mIdle         = "idle CPU"
	mRSS          = "peak RSS"
	mAnon         = "peak anonymous memory"
	mCreateCPU    = "tool CPU, create"
	mCreateAPICPU = "kube-apiserver CPU, create"
	mCommitCPU    = "tool CPU, commit"
	mCommitAPICPU = "kube-apiserver CPU, commit"
	mReported     = "hand edit -> reported"
	mHealed       = "hand edit -> healed"
)

var metricUnits = map[string]string{
	mCreate: "s", mCommit: "s", mIdle: "% of a core", mRSS: "MiB", mAnon: "MiB", mCreateCPU: "CPU-s", mCreateAPICPU: "CPU-s",
	mCommitCPU: "CPU-s", mCommitAPICPU: "CPU-s", mReported: "s", mHealed: "s",
}

var metricOrder = []string{mCreate, mCommit, mIdle, mRSS, mAnon, mCreateCPU, mCreateAPICPU, mCommitCPU, mCommitAPICPU, mReported, mHealed}

// figures are one tool's results at one layout and size.
type figures struct {
	values map[string]float64
	notes  map[string]string
	load   map[string]float64
}

func (f *figures) set(metric string, v float64) { f.values[metric] = v }
func (f *figures) note(metric, s string)        { f.notes[metric] = s }

// timed records a timed figure with the load average it was taken at.
func (f *figures) timed(metric string, v float64) {
	f.values[metric] = v
	f.load[metric] = loadAverage()
}

// loadAverage is the machine's 1-minute load average (0 when unknown).
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(data), " ")
	v, _ := strconv.ParseFloat(first, 64)
	return v
}

// peerBench is a side-by-side run's shared state.
type peerBench struct {
	cfg      peerConfig
	stack    *localstack.Stack
	ferryBin string
	bins     map[string]peers.Built
	srv      *gittest.Server
	program  *gittest.Program
	kube     kubernetes.Interface
	dyn      dynamic.Interface
	ferry    versioned.Interface
	report   *PeerReport
	apiPid   int
	tmp      string
	// fluxHealedAt says where Flux's heal was timed ("plain, n=100: 121 s"), once a run.
	fluxHealedAt string
}

func (p *peerBench) logf(format string, args ...any) {
	fmt.Fprintf(p.cfg.log, "%s peers: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// runPeers runs every layout and size: for each, each tool in turn on a quiet cluster, then the
// floor. It returns what was measured, also when a tool failed part-way.
func runPeers(ctx context.Context, cfg peerConfig) (report *PeerReport, err error) {
	began := time.Now()
	p := &peerBench{cfg: cfg, report: &PeerReport{
		Date:           time.Now().UTC().Format(time.RFC3339),
		Machine:        map[string]string{"cores": strconv.Itoa(runtime.NumCPU()), "os": runtime.GOOS + "/" + runtime.GOARCH},
		Versions:       map[string]string{"go": runtime.Version()},
		Configurations: map[string]map[string]any{},
	}}
	peers.Logf = p.logf
	defer func() {
		p.report.Elapsed = seconds(time.Since(began))
		p.logf("the run took %s", time.Since(began).Round(time.Second))
	}()
	// The floor uses controller-runtime's client, which otherwise warns with a stack trace that no
	// logger was set.
	ctrllog.SetLogger(logr.Discard())
	if p.tmp, err = os.MkdirTemp("", "ferry-bench-peers-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil || cfg.KeepLogs {
			p.logf("the peers' logs are kept in %s", p.tmp)
			return
		}
		_ = os.RemoveAll(p.tmp)
	}()
	root, err := localstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	var names []string
	if slices.Contains(cfg.Tools, toolFlux) {
		names = append(names, peers.FluxBinaries...)
		if slices.Contains(cfg.Layouts, mttpHelm) {
			names = append(names, peers.FluxHelmBinaries...)
		}
	}
	if slices.Contains(cfg.Tools, toolArgoCD) {
		names = append(names, peers.ArgoCDBinaries...)
	}
	if len(names) > 0 {
		p.logf("building or finding the peers (hack/build-peers.sh %s)", strings.Join(names, " "))
		if p.bins, err = peers.Build(root, names...); err != nil {
			return nil, err
		}
		for name, b := range p.bins {
			p.report.Versions[name] = b.Version
		}
	}
	p.ferryBin = filepath.Join(p.tmp, "ferry-apiserver")
	p.logf("building ferry-apiserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", p.ferryBin, "./cmd/ferry-apiserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/ferry-apiserver: %v\n%s", err, out)
	}
	// ferry-apiserver serves its API throughout (its controller off) and runs its controller only
	// in Ferry's turn.
	p.logf("starting a local control plane (etcd, kube-apiserver, kube-controller-manager, ferry-apiserver without its controller; no Node)")
	if p.stack, err = localstack.Start(localstack.Options{FerryBin: p.ferryBin, FerryArgs: []string{"--controller=false"}, NoNode: true, ControllerManagerArgs: []string{
		// The clean-up between turns deletes 100 namespaces at 1,000 apps: 50 at once, not 10, take
		// it from ~30 s to ~20 s a turn. The namespace controller has nothing to do in the timed steps.
		"--concurrent-namespace-syncs=50",
	}}); err != nil {
		return nil, err
	}
	defer p.stack.Stop()
	(&Report{Versions: p.report.Versions, Machine: p.report.Machine}).describe(ctx, p.stack)
	if p.apiPid, err = p.stack.Pid("kube-apiserver"); err != nil {
		return nil, err
	}
	admin := p.stack.RestConfig("admin")
	admin.QPS, admin.Burst = -1, -1
	if p.kube, err = kubernetes.NewForConfig(admin); err != nil {
		return nil, err
	}
	if p.dyn, err = dynamic.NewForConfig(admin); err != nil {
		return nil, err
	}
	if p.ferry, err = versioned.NewForConfig(admin); err != nil {
		return nil, err
	}
	p.program = &gittest.Program{Dir: p.tmp}
	defer p.program.Close()
	p.srv = gittest.NewServer(p.program)
	ingressCtx, stopIngress := context.WithCancel(ctx)
	defer stopIngress()
	p.admitIngresses(ingressCtx)

	for _, layout := range cfg.Layouts {
		sizes := cfg.Sizes
		if layout == mttpHelm {
			sizes = cfg.HelmSizes
		}
		for _, n := range sizes {
			results := map[string]*figures{}
			for _, tool := range append(slices.Clone(cfg.Tools), toolFloor) {
				f := &figures{values: map[string]float64{}, notes: map[string]string{}, load: map[string]float64{}}
				results[tool] = f
				p.logf("%s, %d apps: %s", layout, n, tool)
				turnStart := time.Now()
				err := p.turn(ctx, tool, layout, n, f, n == slices.Max(sizes))
				p.report.Turns = append(p.report.Turns, PeerTurn{Tool: tool, Layout: layout, Size: n, Seconds: seconds(time.Since(turnStart))})
				p.addRows(layout, n, results)
				if err != nil {
					return p.report, fmt.Errorf("%s, %s layout, %d apps: %w", tool, layout, n, err)
				}
			}
		}
	}
	return p.report, nil
}

// addRows (re)writes the rows of layout and n from results.
func (p *peerBench) addRows(layout string, n int, results map[string]*figures) {
	p.report.Rows = slices.DeleteFunc(p.report.Rows, func(r PeerRow) bool { return r.Layout == layout && r.Size == n })
	for _, m := range metricOrder {
		row := PeerRow{Layout: layout, Size: n, Metric: m, Unit: metricUnits[m], Values: map[string]float64{}, Notes: map[string]string{}, Load1: map[string]float64{}}
		for tool, f := range results {
			if l, ok := f.load[m]; ok {
				row.Load1[tool] = l
			}
			if v, ok := f.values[m]; ok {
				row.Values[tool] = v
			}
			if s, ok := f.notes[m]; ok {
				row.Notes[tool] = s
			}
		}
		if len(row.Values) == 0 && len(row.Notes) == 0 {
			continue
		}
		if len(row.Notes) == 0 {
			row.Notes = nil
		}
		if len(row.Load1) == 0 {
			row.Load1 = nil
		}
		p.report.Rows = append(p.report.Rows, row)
	}
}

// configure records a tool's configuration at a layout and size n.
func (p *peerBench) configure(tool, layout string, n int, c map[string]any) {
	if p.report.Configurations[tool] == nil {
		p.report.Configurations[tool] = map[string]any{}
	}
	p.report.Configurations[tool][configKey(layout, n)] = c
}

// configKey is where a configuration is kept in PeerReport.Configurations: "plain, n=100".
func configKey(layout string, n int) string { return fmt.Sprintf("%s, n=%d", layout, n) }

// peerNamespace is where app i of tool's run deploys: 10 apps a namespace, as bench/controller.go.
func peerNamespace(tool string, n, i int) string {
	return fmt.Sprintf("peer-%s-n%d-%03d", tool, n, i/appsPerNamespace)
}

func peerNamespaces(tool string, n int) []string {
	var names []string
	for i := 0; i < n; i += appsPerNamespace {
		names = append(names, peerNamespace(tool, n, i))
	}
	return names
}

// mttpDeployment is the name of app i's Deployment in a layout.
func mttpDeployment(layout string, i int) string {
	if layout == mttpKustomize {
		return mttpName(i) + "-app"
	}
	return mttpName(i)
}

// workload is where one tool's run reads the apps from, identical for every tool but its own:
// a Git repository (plain, kustomize) or a Helm repository (helm).
type workload struct {
	layout string
	repo   *gittest.Repo
	charts *charttest.Repo
	// first is the revision every app is at after the create: a commit, or the chart's version.
	first string
}

// newWorkload publishes layout's n apps at v1 for tool. Argo CD's HA guide asks for
// .argocd-allow-concurrency beside a kustomization that can be rendered concurrently (ours can:
// it writes no file), so that the repo-server does not render one app of the monorepo at a
// time; the other tools ignore it.
func (p *peerBench) newWorkload(tool, layout string, n int) *workload {
	w := &workload{layout: layout}
	if layout == mttpHelm {
		w.charts = charttest.NewRepo(p.program, "", "")
		w.charts.Publish(p.program, mttpChart("v1"))
		w.first = mttpChartVersion("v1")
		return w
	}
	w.repo = p.srv.NewRepo(fmt.Sprintf("%s-%s-%d", tool, layout, n))
	files := mttpRepo(layout, n, "v1")
	if layout == mttpKustomize {
		for i := range n {
			files[mttpPath(i)+"/.argocd-allow-concurrency"] = ""
		}
	}
	w.first = w.repo.Commit("main", files, "the workload at v1")
	return w
}

// v2 is the change touching every app, version v2 everywhere: a commit, or the chart's next
// version published. It returns the revision the apps are then at.
func (w *workload) v2(p *peerBench, n int) string {
	if w.charts != nil {
		w.charts.Publish(p.program, mttpChart("v2"))
		return mttpChartVersion("v2")
	}
	files := mttpRepo(w.layout, n, "v2")
	if w.layout == mttpKustomize {
		for name := range files {
			if strings.HasPrefix(name, "bases/") {
				delete(files, name)
			}
		}
	}
	return w.repo.Commit("main", files, "every app at v2")
}

// toolDriver is how the driver works one tool: its objects, its own status and its trigger.
type toolDriver struct {
	gvr       schema.GroupVersionResource
	namespace string
	// create creates app i's object.
	create func(ctx context.Context, i int) error
	// at says whether an object reports the revision sha applied and healthy, in its own status.
	at func(u *unstructured.Unstructured, sha string) bool
	// outOfSync says whether an object reports drift; nil when the tool reports none.
	outOfSync func(u *unstructured.Unstructured) bool
	// selfHealOff turns app i's self-heal off, for timing the report of a hand edit; observed says
	// whether an object's status reflects its spec (nil: the tool does not say).
	selfHealOff func(ctx context.Context, i int) (generation int64, err error)
	observed    func(u *unstructured.Unstructured) bool
	// trigger makes the tool look at Git now, as a webhook would; how is said in triggerNote.
	trigger     func(ctx context.Context, n int) error
	triggerNote string
	pids        []int
	stop        func(ctx context.Context)
}

// turn runs one tool (or the floor) at layout and n, and cleans up after it so the next tool
// starts on a quiet cluster. largest says whether n is the layout's largest size, where idle is
// measured.
func (p *peerBench) turn(ctx context.Context, tool, layout string, n int, f *figures, largest bool) error {
	if tool == toolFloor {
		return p.floorTurn(ctx, layout, n, f)
	}
	w := p.newWorkload(tool, layout, n)
	first := w.first
	var d *toolDriver
	var err error
	switch tool {
	case toolFerry:
		d, err = p.startFerry(ctx, w, n)
	case toolFlux:
		d, err = p.startFlux(ctx, w, n)
	case toolArgoCD:
		d, err = p.startArgoCD(ctx, w, n)
	default:
		return fmt.Errorf("unknown tool %q", tool)
	}
	namespaces := peerNamespaces(tool, n)
	defer func() {
		cctx := context.WithoutCancel(ctx)
		if d != nil && d.stop != nil {
			d.stop(cctx)
		}
		p.deleteNamespaces(cctx, append(namespaces, p.toolNamespaces(tool, n)...))
	}()
	if err != nil {
		return err
	}
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	tr, err := trackObjects(trackCtx, p.dyn.Resource(d.gvr).Namespace(d.namespace))
	if err != nil {
		return err
	}
	names := make([]string, n)
	for i := range n {
		names[i] = mttpName(i)
	}
	// allAt waits until every app has reported rev applied and healthy in the tool's status.
	allAt := func(what, rev string) (time.Time, error) {
		p.logf("%s: waiting for %d apps at %.12s (%s)", tool, n, rev, what)
		return tr.waitEach(ctx, p.cfg.Timeout, p.logf, names, func(u *unstructured.Unstructured) bool { return d.at(u, rev) })
	}
	// The tool's figures count its processes and what they start: Ferry's render workers, the
	// git, helm and kustomize commands of Argo CD's repo-server.
	procs := newProcessTree(d.pids...)
	procs.ObserveEvery(trackCtx, time.Second)
	cpu := func() (tool, api time.Duration) {
		tool = procs.CPU()
		if s, err := sampleProcess(p.apiPid); err == nil {
			api = s.CPU
		}
		return tool, api
	}

	// 2. Create → all Synced and Healthy.
	toolBefore, apiBefore := cpu()
	start := time.Now()
	if err := eachConcurrently(n, 16, func(i int) error { return d.create(ctx, i) }); err != nil {
		return fmt.Errorf("creating the objects: %w", err)
	}
	doneAt, err := allAt("create", first)
	if err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}
	toolAfter, apiAfter := cpu()
	f.timed(mCreate, seconds(doneAt.Sub(start)))
	f.set(mCreateCPU, seconds(toolAfter-toolBefore))
	f.set(mCreateAPICPU, seconds(apiAfter-apiBefore))
	p.logf("%s: %d apps Synced and Healthy in %s", tool, n, doneAt.Sub(start).Round(time.Millisecond))

	// 3. A commit touching every app, then the tool told at once, as after a webhook.
	second := w.v2(p, n)
	toolBefore, apiBefore = cpu()
	start = time.Now()
	if err := d.trigger(ctx, n); err != nil {
		return fmt.Errorf("triggering after the commit: %w", err)
	}
	doneAt, err = allAt("commit", second)
	if err != nil {
		return fmt.Errorf("after the commit: %w", err)
	}
	toolAfter, apiAfter = cpu()
	f.timed(mCommit, seconds(doneAt.Sub(start)))
	f.note(mCommit, d.triggerNote)
	f.set(mCommitCPU, seconds(toolAfter-toolBefore))
	f.set(mCommitAPICPU, seconds(apiAfter-apiBefore))
	p.logf("%s: %d apps at %.12s in %s", tool, n, second, doneAt.Sub(start).Round(time.Millisecond))

	// 4. A hand edit of app 0's Deployment, right after the commit: Flux heals at its next
	// reconciliation, an interval after the commit's, so its figure is the interval's worth and
	// does not depend on when the edit fell.
	if err := p.handEdit(ctx, tool, layout, n, d, tr, f); err != nil {
		return err
	}

	// 5. Idle, at the layouts it is measured at, at their largest size.
	if largest && slices.Contains(p.cfg.IdleLayouts, layout) {
		p.logf("%s: idle for %s", tool, p.cfg.Idle)
		toolBefore, _ = cpu()
		select {
		case <-time.After(p.cfg.Idle):
		case <-ctx.Done():
			return ctx.Err()
		}
		toolAfter, _ = cpu()
		f.timed(mIdle, 100*seconds(toolAfter-toolBefore)/p.cfg.Idle.Seconds())
	}

	f.set(mRSS, mib(procs.PeakRSS()))
	f.set(mAnon, mib(procs.PeakAnon()))
	if k := procs.Processes(); k > len(d.pids) {
		f.note(mRSS, fmt.Sprintf("%d processes of the tool, and the peak resident set of the %d they started while they ran (sampled every second)", len(d.pids), k-len(d.pids)))
	}
	return nil
}

// handEdit changes the VERSION of app 0's Deployment by hand and times until it is healed (the
// Deployment has the commit's value again), by each tool's self-heal. With self-heal on, Ferry
// heals before its status ever says OutOfSync, so the report is timed on app 1, whose self-heal
// is turned off first (for Argo CD too, alike): until its status says OutOfSync.
func (p *peerBench) handEdit(ctx context.Context, tool, layout string, n int, d *toolDriver, tr *objTracker, f *figures) error {
	ns, name := peerNamespace(tool, n, 0), mttpDeployment(layout, 0)
	deployments := p.kube.AppsV1().Deployments(ns)
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"VERSION","value":"edited by hand"}]}]}}}}`)
	healTimeout := 3 * time.Minute
	interval := p.fluxInterval(n)
	if tool == toolFlux {
		// Flux heals at its next reconciliation, an interval after the commit's: the figure is
		// its configuration, not its speed. It is waited for once a run; every further wait
		// would add the interval (2 minutes at 100 apps) to the run and tell nothing new.
		switch {
		case interval > maxFluxHealWait:
			f.note(mHealed, fmt.Sprintf("not waited for: at the next reconciliation, spec.interval (%s) after the commit's", interval))
			f.note(mReported, "not reported: Flux's status does not show drift")
			return nil
		case p.fluxHealedAt != "":
			f.note(mHealed, fmt.Sprintf("not waited for: at the next reconciliation, spec.interval (%s) after the commit's (measured once a run, at %s)", interval, p.fluxHealedAt))
			f.note(mReported, "not reported: Flux's status does not show drift")
			return nil
		}
		healTimeout = interval*12/10 + 30*time.Second
	}
	p.logf("%s: a hand edit of Deployment %s/%s", tool, ns, name)
	edited := time.Now()
	after, err := deployments.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "ferry-bench-hand-edit"})
	if err != nil {
		return fmt.Errorf("editing a managed Deployment: %w", err)
	}
	edited = edited.Add(time.Since(edited) / 2)
	healed, err := waitDeploymentRestored(ctx, deployments, name, after.ResourceVersion, healTimeout)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		// A figure of its own, not a failed run: the other figures still count.
		p.logf("%s: the hand edit was not healed: %v", tool, err)
		f.note(mHealed, fmt.Sprintf("not healed within %s", healTimeout))
	default:
		f.set(mHealed, seconds(healed.Sub(edited)))
		if tool == toolFlux {
			p.fluxHealedAt = fmt.Sprintf("%s, n=%d: %.0f s", layout, n, seconds(healed.Sub(edited)))
		}
	}
	switch {
	case tool == toolFlux && layout == mttpHelm:
		f.note(mHealed, "by helm-controller's drift correction (driftDetection.mode: enabled)")
	case tool == toolFlux:
		f.note(mHealed, fmt.Sprintf("at the Kustomization's next reconciliation, spec.interval (%s) after the commit's", interval))
	}
	if d.outOfSync == nil {
		f.note(mReported, "not reported: Flux's status does not show drift")
		return nil
	}
	if n < 2 {
		return nil
	}

	app := mttpName(1)
	gen, err := d.selfHealOff(ctx, 1)
	if err != nil {
		return fmt.Errorf("turning the self-heal of %s off: %w", app, err)
	}
	if d.observed != nil {
		// Until the tool has seen the new spec, it would heal the edit (or apply over it).
		if _, err := tr.waitFor(ctx, time.Minute, p.logf, func(objs map[string]*unstructured.Unstructured) (bool, string) {
			u := objs[app]
			return u != nil && u.GetGeneration() >= gen && d.observed(u), app + " observed without self-heal"
		}); err != nil {
			return err
		}
	}
	reported := make(chan time.Time, 1)
	tr.onEvent(func(u *unstructured.Unstructured, at time.Time) {
		if u.GetName() == app && d.outOfSync(u) {
			select {
			case reported <- at:
			default:
			}
		}
	})
	defer tr.onEvent(nil)
	ns, name = peerNamespace(tool, n, 1), mttpDeployment(layout, 1)
	p.logf("%s: a hand edit of Deployment %s/%s, whose app does not self-heal", tool, ns, name)
	edited = time.Now()
	if _, err := p.kube.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{FieldManager: "ferry-bench-hand-edit"}); err != nil {
		return fmt.Errorf("editing a managed Deployment: %w", err)
	}
	edited = edited.Add(time.Since(edited) / 2)
	select {
	case at := <-reported:
		f.set(mReported, seconds(max(at.Sub(edited), time.Millisecond)))
		f.note(mReported, "status OutOfSync, on an app whose self-heal is off")
	case <-time.After(3 * time.Minute):
		tr.mu.Lock()
		state, _ := json.Marshal(tr.objs[app].Object)
		tr.mu.Unlock()
		p.logf("%s: the hand edit of %s/%s was not reported within 3 minutes; %s is %s", tool, ns, name, app, state)
		f.note(mReported, "not reported within 3m")
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// waitDeploymentRestored waits for the Deployment name, which carries the hand edit at
// resourceVersion rv, to lose it. It watches from rv, and from the last version seen whenever
// kube-apiserver closes the watch; when the watch can no longer start there (the version is older
// than the watch cache keeps, which after minutes of a large sync it soon is), it reads the
// Deployment and goes on from what it reads.
func waitDeploymentRestored(ctx context.Context, deployments deploymentWatcher, name, rv string, timeout time.Duration) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	edited := func(dep *appsv1.Deployment) bool {
		for _, c := range dep.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.Value == "edited by hand" {
					return true
				}
			}
		}
		return false
	}
	notRestored := fmt.Errorf("not restored within %s", timeout)
	for {
		w, err := deployments.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), ResourceVersion: rv})
		if err != nil {
			if ctx.Err() != nil {
				return time.Time{}, notRestored
			}
			return time.Time{}, err
		}
		// The channel closes when the server ends the watch or ctx ends.
		gone := false
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				gone = true // typically 410 Gone: rv is older than the watch cache keeps
				break
			}
			if dep, ok := ev.Object.(*appsv1.Deployment); ok && ev.Type == watch.Modified {
				rv = dep.ResourceVersion
				if !edited(dep) {
					w.Stop()
					return time.Now(), nil
				}
			}
		}
		w.Stop()
		if ctx.Err() != nil {
			return time.Time{}, notRestored
		}
		if gone {
			dep, err := deployments.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				if ctx.Err() != nil {
					return time.Time{}, notRestored
				}
				return time.Time{}, err
			}
			if !edited(dep) {
				return time.Now(), nil
			}
			rv = dep.ResourceVersion
		}
	}
}

// deploymentWatcher is what waitDeploymentRestored needs of a Deployments client.
type deploymentWatcher interface {
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error)
}

// toolNamespaces are the namespaces of a tool's own objects, deleted after its turn.
func (p *peerBench) toolNamespaces(tool string, n int) []string {
	switch tool {
	case toolFerry:
		return []string{fmt.Sprintf("peer-ferry-apps-%d", n)}
	case toolFlux:
		return []string{peers.FluxNamespace}
	case toolArgoCD:
		return []string{peers.ArgoCDNamespace}
	}
	return nil
}

// deleteNamespaces deletes namespaces and waits until they are gone: the next tool starts on a
// quiet cluster.
func (p *peerBench) deleteNamespaces(ctx context.Context, names []string) {
	start := time.Now()
	defer func() { p.logf("deleted %d namespaces in %s", len(names), time.Since(start).Round(time.Second)) }()
	_ = eachConcurrently(len(names), 16, func(i int) error {
		if err := p.kube.CoreV1().Namespaces().Delete(ctx, names[i], metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			p.logf("deleting namespace %s: %v", names[i], err)
		}
		return nil
	})
	err := waitpkg.PollUntilContextTimeout(ctx, time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := p.kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		for _, ns := range list.Items {
			if slices.Contains(names, ns.Name) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		p.logf("namespaces not all gone: %v", err)
	}
}

// admitIngresses plays an ingress controller: it gives every Ingress an address. Argo CD calls
// an Ingress Healthy only once it has one (kstatus, which Ferry and Flux use, does not look), and
// a cluster that serves Ingresses has a controller doing this; it runs for every tool alike.
func (p *peerBench) admitIngresses(ctx context.Context) {
	factory := informers.NewSharedInformerFactory(p.kube, 0)
	queue := make(chan types.NamespacedName, 10000)
	enqueue := func(obj any) {
		if ing, ok := obj.(*networkingv1.Ingress); ok && len(ing.Status.LoadBalancer.Ingress) == 0 {
			queue <- types.NamespacedName{Namespace: ing.Namespace, Name: ing.Name}
		}
	}
	_, _ = factory.Networking().V1().Ingresses().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	for range 4 {
		go func() {
			for {
				select {
				case key := <-queue:
					ing, err := p.kube.NetworkingV1().Ingresses(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
					if err != nil || len(ing.Status.LoadBalancer.Ingress) > 0 {
						continue
					}
					ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "127.0.0.1"}}
					_, _ = p.kube.NetworkingV1().Ingresses(key.Namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{})
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	factory.Start(ctx.Done())
}

// startFerry restarts ferry-apiserver with its controller, as bench/controller.go does.
func (p *peerBench) startFerry(ctx context.Context, w *workload, n int) (*toolDriver, error) {
	args := []string{fmt.Sprintf("--controller-workers=%d", p.cfg.Workers)}
	p.logf("ferry: restarting ferry-apiserver with %s", strings.Join(args, " "))
	if err := p.stack.RestartFerry(p.ferryBin, args...); err != nil {
		return nil, err
	}
	pid, err := p.stack.Pid("ferry-apiserver")
	if err != nil {
		return nil, err
	}
	ns := fmt.Sprintf("peer-ferry-apps-%d", n)
	source := func(i int) gitopsv1alpha1.ApplicationSource {
		return gitopsv1alpha1.ApplicationSource{RepoURL: w.repo.URL(), Revision: "main", Path: mttpPath(i)}
	}
	sourceText := "{repoURL, revision: main, path: apps/app-NNNNN}"
	if w.charts != nil {
		source = func(int) gitopsv1alpha1.ApplicationSource {
			return gitopsv1alpha1.ApplicationSource{RepoURL: w.charts.URL, Chart: mttpChartName, Revision: mttpChartRange}
		}
		sourceText = fmt.Sprintf("{repoURL: the Helm repository, chart: %s, revision: %q} (the release named after the Application)", mttpChartName, mttpChartRange)
	}
	p.configure(toolFerry, w.layout, n, map[string]any{
		"ferry-apiserver": map[string]any{"version": p.report.Versions["ferry"], "args": args},
		"Application":     "spec.source " + sourceText + ", spec.destination.namespace, syncPolicy {automated {prune, selfHeal}, createNamespace}, interval Ferry's default (3m); in namespace " + ns + ", acting as its default ServiceAccount bound to cluster-admin",
	})
	if _, err := p.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	if err := bindDeployer(ctx, p.kube, ns); err != nil {
		return nil, err
	}
	apps := p.ferry.GitopsV1alpha1().Applications(ns)
	return &toolDriver{
		gvr:       gitopsv1alpha1.SchemeGroupVersion.WithResource("applications"),
		namespace: ns,
		pids:      []int{pid},
		create: func(ctx context.Context, i int) error {
			_, err := apps.Create(ctx, &gitopsv1alpha1.Application{
				ObjectMeta: metav1.ObjectMeta{Name: mttpName(i), Namespace: ns,
					Annotations: map[string]string{gitopsv1alpha1.DeletionPolicyAnnotation: gitopsv1alpha1.DeletionPolicyOrphan}},
				Spec: gitopsv1alpha1.ApplicationSpec{
					Source:      source(i),
					Destination: gitopsv1alpha1.ApplicationDestination{Namespace: peerNamespace(toolFerry, n, i)},
					SyncPolicy: gitopsv1alpha1.SyncPolicy{
						Automated:       &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true, SelfHeal: true},
						CreateNamespace: true,
					},
				},
			}, metav1.CreateOptions{})
			return err
		},
		at: func(u *unstructured.Unstructured, sha string) bool {
			og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			return og == u.GetGeneration() && str(u, "status", "sync", "status") == "Synced" &&
				str(u, "status", "sync", "revision") == sha && str(u, "status", "health", "status") == "Healthy"
		},
		outOfSync: func(u *unstructured.Unstructured) bool { return str(u, "status", "sync", "status") == "OutOfSync" },
		selfHealOff: func(ctx context.Context, i int) (int64, error) {
			a, err := apps.Patch(ctx, mttpName(i), types.MergePatchType, []byte(`{"spec":{"syncPolicy":{"automated":{"selfHeal":false}}}}`), metav1.PatchOptions{})
			if err != nil {
				return 0, err
			}
			return a.Generation, nil
		},
		observed: func(u *unstructured.Unstructured) bool {
			og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			return og == u.GetGeneration()
		},
		trigger: func(ctx context.Context, n int) error {
			return eachConcurrently(n, 16, func(i int) error {
				_, err := apps.Refresh(ctx, mttpName(i), &gitopsv1alpha1.ApplicationRefresh{ObjectMeta: metav1.ObjectMeta{Name: mttpName(i)}}, metav1.CreateOptions{})
				return err
			})
		},
		triggerNote: "ferry: POST applications/NAME/refresh for each Application",
		stop: func(ctx context.Context) {
			if err := apps.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
				p.logf("ferry: deleting the Applications: %v", err)
			}
			_ = waitpkg.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
				list, err := apps.List(ctx, metav1.ListOptions{})
				return err == nil && len(list.Items) == 0, nil
			})
			if err := p.kube.RbacV1().ClusterRoleBindings().Delete(ctx, deployerBinding(ns), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				p.logf("ferry: deleting the deployer's ClusterRoleBinding: %v", err)
			}
			if err := p.stack.RestartFerry(p.ferryBin, "--controller=false"); err != nil {
				p.logf("ferry: restarting ferry-apiserver without its controller: %v", err)
			}
		},
	}, nil
}

// maxFluxHealWait is the longest Flux interval the driver waits out to time Flux's heal, which
// comes at the next reconciliation: a longer one is noted, not waited for.
const maxFluxHealWait = 5 * time.Minute

// fluxInterval is spec.interval of Flux's objects for n apps: -peer-flux-interval, and at least
// 10m from 1,000 apps. With 1,000 Kustomizations on two cores, one round of reconciliations takes
// longer than 2m: Flux would look at every app again before it had finished the round, for ever,
// which is not how anyone would run Flux at that size.
func (p *peerBench) fluxInterval(n int) time.Duration {
	if n >= 1000 {
		return max(p.cfg.FluxInterval, 10*time.Minute)
	}
	return p.cfg.FluxInterval
}

// fluxOptions are Flux's vertical-scaling guide's settings for n Kustomizations.
func fluxOptions(n int) peers.FluxOptions {
	o := peers.FluxOptions{Concurrent: 10, RequeueDependency: 5 * time.Second}
	if n >= 1000 {
		o.Concurrent = 20
	}
	return o
}

// startFlux starts source-controller and kustomize-controller fresh, and helm-controller for the
// helm layout.
func (p *peerBench) startFlux(ctx context.Context, w *workload, n int) (*toolDriver, error) {
	env, err := peers.NewEnv(p.stack, p.tmp)
	if err != nil {
		return nil, err
	}
	opts := fluxOptions(n)
	conf, err := env.StartFlux(ctx, p.bins, opts)
	d := &toolDriver{stop: func(ctx context.Context) {
		env.Stop()
		env.RemoveFluxFinalizers(ctx)
	}}
	if err != nil {
		return d, err
	}
	if w.charts != nil {
		hc, err := env.StartHelmController(ctx, p.bins, opts)
		if err != nil {
			return d, err
		}
		conf["helm-controller"] = hc
	}
	for _, pr := range env.Processes() {
		// kustomize-controller has nothing to do for HelmReleases: it runs, idle, but is not
		// counted as Flux's for the helm layout.
		if w.charts != nil && pr.Name == "kustomize-controller" {
			continue
		}
		d.pids = append(d.pids, pr.Cmd.Process.Pid)
	}
	// Releases and Kustomizations do not create their targetNamespace: the platform team does,
	// here as part of the timed create.
	var nsOnce sync.Once
	var nsErr error
	namespaces := func(ctx context.Context) error {
		nsOnce.Do(func() {
			names := peerNamespaces(toolFlux, n)
			nsErr = eachConcurrently(len(names), 16, func(j int) error { return env.Namespace(ctx, names[j]) })
		})
		return nsErr
	}
	if w.charts != nil {
		return d, p.fluxHelmReleases(ctx, env, d, conf, w, n, namespaces)
	}
	interval := p.fluxInterval(n).String()
	conf["GitRepository"] = fmt.Sprintf("one, %s/mttp: spec {url, ref.branch: main, interval: %s}", peers.FluxNamespace, interval)
	conf["Kustomization"] = fmt.Sprintf("one per app in %s: spec {sourceRef: the GitRepository, path: ./apps/app-NNNNN, targetNamespace, prune: true, wait: true, timeout: 5m, interval: %s}; the target namespaces are created by the driver, inside the timed create", peers.FluxNamespace, interval)
	p.configure(toolFlux, w.layout, n, conf)
	if err := env.Create(ctx, peers.GitRepositories, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "mttp", "namespace": peers.FluxNamespace},
		"spec":     map[string]any{"url": w.repo.URL(), "ref": map[string]any{"branch": "main"}, "interval": interval},
	}); err != nil {
		return d, err
	}
	d.gvr, d.namespace = peers.Kustomizations, peers.FluxNamespace
	d.create = func(ctx context.Context, i int) error {
		if err := namespaces(ctx); err != nil {
			return err
		}
		return env.Create(ctx, peers.Kustomizations, map[string]any{
			"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
			"metadata": map[string]any{"name": mttpName(i), "namespace": peers.FluxNamespace},
			"spec": map[string]any{
				"sourceRef":       map[string]any{"kind": "GitRepository", "name": "mttp"},
				"path":            "./" + mttpPath(i),
				"targetNamespace": peerNamespace(toolFlux, n, i),
				"prune":           true, "wait": true, "timeout": "5m", "interval": interval,
			},
		})
	}
	d.at = func(u *unstructured.Unstructured, sha string) bool {
		og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		ready, _ := peers.ReadyCondition(u)
		return ready && og == u.GetGeneration() && strings.HasSuffix(str(u, "status", "lastAppliedRevision"), ":"+sha)
	}
	d.trigger = func(ctx context.Context, _ int) error {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
		_, err := p.dyn.Resource(peers.GitRepositories).Namespace(peers.FluxNamespace).Patch(ctx, "mttp", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	}
	d.triggerNote = "flux: the reconcile.fluxcd.io/requestedAt annotation on the GitRepository (what flux reconcile source git and Flux's Receiver do)"
	return d, nil
}

// fluxHelmReleases drives Flux for the helm layout: one HelmRepository, and a HelmRelease per app
// (helm-controller makes a HelmChart of each, which source-controller fetches from the
// repository). Drift detection is on, so that Flux corrects a hand edit as the others do.
func (p *peerBench) fluxHelmReleases(ctx context.Context, env *peers.Env, d *toolDriver, conf map[string]any, w *workload, n int, namespaces func(context.Context) error) error {
	interval := p.fluxInterval(n).String()
	conf["HelmRepository"] = fmt.Sprintf("one, %s/mttp-charts: spec {url, interval: %s}", peers.FluxNamespace, interval)
	conf["HelmRelease"] = fmt.Sprintf("one per app in %s: spec {chart.spec {chart: %s, version: %q, sourceRef: the HelmRepository}, releaseName: app-NNNNN, targetNamespace, driftDetection.mode: enabled, interval: %s}; the target namespaces are created by the driver, inside the timed create", peers.FluxNamespace, mttpChartName, mttpChartRange, interval)
	p.configure(toolFlux, w.layout, n, conf)
	if err := env.Create(ctx, peers.HelmRepositories, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
		"metadata": map[string]any{"name": "mttp-charts", "namespace": peers.FluxNamespace},
		"spec":     map[string]any{"url": w.charts.URL, "interval": interval},
	}); err != nil {
		return err
	}
	d.gvr, d.namespace = peers.HelmReleases, peers.FluxNamespace
	d.create = func(ctx context.Context, i int) error {
		if err := namespaces(ctx); err != nil {
			return err
		}
		return env.Create(ctx, peers.HelmReleases, map[string]any{
			"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
			"metadata": map[string]any{"name": mttpName(i), "namespace": peers.FluxNamespace},
			"spec": map[string]any{
				"interval":        interval,
				"releaseName":     mttpName(i), // else <targetNamespace>-<name>
				"targetNamespace": peerNamespace(toolFlux, n, i),
				"chart": map[string]any{"spec": map[string]any{
					"chart": mttpChartName, "version": mttpChartRange, "interval": interval,
					"sourceRef": map[string]any{"kind": "HelmRepository", "name": "mttp-charts"},
				}},
				"driftDetection": map[string]any{"mode": "enabled"},
			},
		})
	}
	d.at = func(u *unstructured.Unstructured, version string) bool {
		og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		ready, _ := peers.ReadyCondition(u)
		return ready && og == u.GetGeneration() && str(u, "status", "lastAttemptedRevision") == version
	}
	d.trigger = func(ctx context.Context, _ int) error {
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().Format(time.RFC3339Nano))
		_, err := p.dyn.Resource(peers.HelmRepositories).Namespace(peers.FluxNamespace).Patch(ctx, "mttp-charts", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		return err
	}
	d.triggerNote = "flux: the reconcile.fluxcd.io/requestedAt annotation on the HelmRepository (what flux reconcile source helm does); the HelmCharts and HelmReleases follow the new index"
	return nil
}

// argoCDOptions are Argo CD's HA guide's settings for n Applications.
func argoCDOptions(n int) peers.ArgoCDOptions {
	o := peers.ArgoCDOptions{StatusProcessors: 20, OperationProcessors: 10, ClientQPS: 500, ClientBurst: 1000}
	if n >= 1000 {
		o.StatusProcessors, o.OperationProcessors = 50, 25
	}
	// The repo-server renders at most as many apps at once as the controller refreshes.
	o.RepoParallelism = o.StatusProcessors
	return o
}

// startArgoCD starts Redis, argocd-repo-server and argocd-application-controller fresh.
func (p *peerBench) startArgoCD(ctx context.Context, w *workload, n int) (*toolDriver, error) {
	env, err := peers.NewEnv(p.stack, p.tmp)
	if err != nil {
		return nil, err
	}
	d := &toolDriver{stop: func(ctx context.Context) {
		if err := p.dyn.Resource(peers.Applications).Namespace(peers.ArgoCDNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
			p.logf("argocd: deleting the Applications: %v", err)
		}
		env.Stop()
	}}
	conf, err := env.StartArgoCD(ctx, p.bins, argoCDOptions(n))
	if err != nil {
		return d, err
	}
	source := func(i int) map[string]any {
		return map[string]any{"repoURL": w.repo.URL(), "targetRevision": "main", "path": mttpPath(i)}
	}
	sourceText := "{repoURL, targetRevision: main, path: apps/app-NNNNN}"
	if w.charts != nil {
		source = func(int) map[string]any {
			return map[string]any{"repoURL": w.charts.URL, "chart": mttpChartName, "targetRevision": mttpChartRange}
		}
		sourceText = fmt.Sprintf("{repoURL: the Helm repository, chart: %s, targetRevision: %q} (the release named after the Application)", mttpChartName, mttpChartRange)
	}
	conf["Application"] = fmt.Sprintf("one per app in %s: spec {project: default, source %s, destination {server: https://kubernetes.default.svc, namespace}, syncPolicy {automated {prune: true, selfHeal: true}, syncOptions: [CreateNamespace=true]}}", peers.ArgoCDNamespace, sourceText)
	conf["ARGOCD_K8S_CLIENT_QPS/BURST"] = "raised from 50/100 so that client-side throttling, which Ferry and Flux do not have, is not what is measured"
	p.configure(toolArgoCD, w.layout, n, conf)
	for _, pr := range env.Processes() {
		d.pids = append(d.pids, pr.Cmd.Process.Pid)
	}
	apps := p.dyn.Resource(peers.Applications).Namespace(peers.ArgoCDNamespace)
	d.gvr, d.namespace = peers.Applications, peers.ArgoCDNamespace
	d.create = func(ctx context.Context, i int) error {
		return env.Create(ctx, peers.Applications, map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": mttpName(i), "namespace": peers.ArgoCDNamespace},
			"spec": map[string]any{
				"project":     "default",
				"source":      source(i),
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": peerNamespace(toolArgoCD, n, i)},
				"syncPolicy": map[string]any{
					"automated":   map[string]any{"prune": true, "selfHeal": true},
					"syncOptions": []any{"CreateNamespace=true"},
				},
			},
		})
	}
	d.at = func(u *unstructured.Unstructured, sha string) bool {
		return str(u, "status", "sync", "status") == "Synced" && str(u, "status", "sync", "revision") == sha &&
			str(u, "status", "health", "status") == "Healthy"
	}
	d.outOfSync = func(u *unstructured.Unstructured) bool { return str(u, "status", "sync", "status") == "OutOfSync" }
	d.selfHealOff = func(ctx context.Context, i int) (int64, error) {
		u, err := apps.Patch(ctx, mttpName(i), types.MergePatchType, []byte(`{"spec":{"syncPolicy":{"automated":{"selfHeal":false}}}}`), metav1.PatchOptions{})
		if err != nil {
			return 0, err
		}
		return u.GetGeneration(), nil
	}
	d.trigger = func(ctx context.Context, n int) error {
		return eachConcurrently(n, 16, func(i int) error {
			_, err := apps.Patch(ctx, mttpName(i), types.MergePatchType, []byte(`{"metadata":{"annotations":{"argocd.argoproj.io/refresh":"normal"}}}`), metav1.PatchOptions{})
			return err
		})
	}
	d.triggerNote = "argocd: the argocd.argoproj.io/refresh=normal annotation on each Application (what argocd app get --refresh does)"
	return d, nil
}

// floorTurn applies the same objects as the tools with floorApps/runFloor and Ferry's worker
// count: the v1 objects into empty namespaces, then the v2 objects over them.
func (p *peerBench) floorTurn(ctx context.Context, layout string, n int, f *figures) error {
	namespaces := peerNamespaces(toolFloor, n)
	defer p.deleteNamespaces(context.WithoutCancel(ctx), namespaces)
	p.configure(toolFloor, layout, n, map[string]any{
		"program": "bench/floor.go: per app, GET the namespace and create it, a server-side-apply dry run of every object (8 at once), then the apply tier by tier (8 at once); no client-side throttling",
		"workers": p.cfg.Workers,
	})
	ns := func(i int) string { return peerNamespace(toolFloor, n, i) }
	admin := p.stack.RestConfig("admin")
	if layout == mttpHelm {
		layout = mttpPlain // the chart renders the plain layout's objects (TestMTTPChartRendersThePlainLayoutsObjects)
	}
	for _, step := range []struct {
		version, metric, apiMetric string
	}{{"v1", mCreate, mCreateAPICPU}, {"v2", mCommit, mCommitAPICPU}} {
		apps, err := floorApps(layout, n, step.version, ns)
		if err != nil {
			return err
		}
		before, _ := sampleProcess(p.apiPid)
		took, err := runFloor(ctx, admin, apps, p.cfg.Workers)
		if err != nil {
			return fmt.Errorf("floor at %s: %w", step.version, err)
		}
		after, _ := sampleProcess(p.apiPid)
		f.timed(step.metric, seconds(took))
		f.set(step.apiMetric, seconds(after.CPU-before.CPU))
		p.logf("floor: %d apps at %s applied in %s", n, step.version, took.Round(time.Millisecond))
	}
	return nil
}

func str(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}

// print writes the table: per layout, size and metric a column per tool, and Ferry's figure
// over each other's (below 1: Ferry lower, i.e. faster or cheaper).
func (r *PeerReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nFerry side by side with Flux and Argo CD, %s, %s cores, %s; %s\n", r.Date, r.Machine["cores"], r.Machine["memory"], r.Command)
	tw := newTable(w, "LAYOUT", "N", "METRIC", "UNIT", "FERRY", "FLUX", "ARGOCD", "FLOOR", "FERRY/FLUX", "FERRY/ARGOCD", "FERRY/FLOOR")
	for _, row := range r.Rows {
		cells := []string{row.Layout, strconv.Itoa(row.Size), row.Metric, row.Unit}
		for _, tool := range []string{toolFerry, toolFlux, toolArgoCD, toolFloor} {
			switch v, ok := row.Values[tool]; {
			case ok:
				cells = append(cells, formatValue(v))
			case strings.HasPrefix(row.Notes[tool], "not reported"):
				cells = append(cells, "not reported")
			default:
				cells = append(cells, "-")
			}
		}
		ferry, ok := row.Values[toolFerry]
		for _, tool := range []string{toolFlux, toolArgoCD, toolFloor} {
			if v, ok2 := row.Values[tool]; ok && ok2 && v > 0 {
				cells = append(cells, fmt.Sprintf("%.2f", ferry/v))
			} else {
				cells = append(cells, "-")
			}
		}
		tw.row(cells...)
	}
	tw.flush()
	for _, row := range r.Rows {
		for _, tool := range []string{toolFerry, toolFlux, toolArgoCD, toolFloor} {
			if l := row.Load1[tool]; l > 3 {
				fmt.Fprintf(w, "taken at a load average of %.2f (above 3): %s, %d, %s, %s\n", l, row.Layout, row.Size, row.Metric, tool)
			}
		}
	}
	if len(r.Turns) > 0 {
		var turns []string
		for _, t := range r.Turns {
			turns = append(turns, fmt.Sprintf("%s %s/%d %s", t.Tool, t.Layout, t.Size, roundSeconds(t.Seconds)))
		}
		fmt.Fprintf(w, "the run took %s; its turns, each with its tool's start and clean-up: %s\n",
			roundSeconds(r.Elapsed), strings.Join(turns, ", "))
	}
	said := map[string]bool{}
	for _, row := range r.Rows {
		if row.Metric != mCommit {
			continue
		}
		for _, tool := range []string{toolFerry, toolFlux, toolArgoCD} {
			if s := row.Notes[tool]; s != "" && !said[s] {
				said[s] = true
				fmt.Fprintf(w, "trigger after the commit, %s\n", s)
			}
		}
	}
}

func (r *PeerReport) write(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
