package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/plugin"
	"github.com/ferry-gitops/ferry/pkg/ui"
)

const uiNamespace = "bench-ui"

// statusMix is the sync and health of the i-th Application of the UI scenario: mostly Synced
// and Healthy, with OutOfSync, Degraded and Progressing among them, as a large fleet looks.
func statusMix(i int) (gitopsv1alpha1.SyncStatusCode, gitopsv1alpha1.HealthStatusCode) {
	sync, health := gitopsv1alpha1.SyncStatusSynced, gitopsv1alpha1.HealthHealthy
	if i%7 == 3 {
		sync = gitopsv1alpha1.SyncStatusOutOfSync
	}
	switch i % 11 {
	case 5:
		health = gitopsv1alpha1.HealthDegraded
	case 8:
		health = gitopsv1alpha1.HealthProgressing
	}
	return sync, health
}

// epochMillis turns a browser time (performance.timeOrigin + performance.now(), milliseconds
// since the Unix epoch, fractional) into a time.Time, to compare with the driver's clock: both
// read the same machine's wall clock.
func epochMillis(ms float64) time.Time {
	return time.Unix(0, int64(ms*float64(time.Millisecond)))
}

// navTiming is what the browser's Navigation Timing says of one page load.
type navTiming struct {
	TTFB     float64 `json:"ttfb"`     // navigation start → first byte of the response, ms
	Response float64 `json:"response"` // first → last byte, ms
	Load     float64 `json:"load"`     // navigation start → load event end, ms
	Transfer float64 `json:"transfer"` // bytes on the wire for the document
	Body     float64 `json:"body"`     // bytes of the document's body as sent
	Rows     int     `json:"rows"`     // rows in the table
	Elements int     `json:"elements"` // DOM elements
}

const navTimingJS = `JSON.stringify((function(){var n=performance.getEntriesByType("navigation")[0];
return {ttfb:n.responseStart-n.startTime, response:n.responseEnd-n.responseStart, load:n.loadEventEnd-n.startTime,
transfer:n.transferSize, body:n.encodedBodySize, rows:document.querySelectorAll("#apps-body tr").length,
elements:document.getElementsByTagName("*").length}})())`

// observeJS records, for every row the live stream swaps into the table, when it arrived (ms
// since the epoch) under the revision it shows, the marker each status write sets.
const observeJS = `(function(){window.ferrySeen={};var body=document.getElementById("apps-body");
new MutationObserver(function(ms){var t=performance.timeOrigin+performance.now();
ms.forEach(function(m){m.addedNodes.forEach(function(n){if(n.nodeType!==1)return;var c=n.querySelector("code[title]");
if(c&&!(c.title in window.ferrySeen))window.ferrySeen[c.title]=t;});});}).observe(body,{childList:true});return "observing";})()`

// uiScenario stores n Applications with a mix of states, serves the web UI (pkg/ui, in this
// process, as the admin with a kubectl-like client) and drives a headless chromium: the first
// page's load, a status change's way to the open page, and the memory of both sides.
func (b *bench) uiScenario(ctx context.Context, n int) error {
	browserPath, err := chromiumPath()
	if err != nil {
		return err
	}
	admin := b.stack.RestConfig("admin")
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uiNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	writer := rest.CopyConfig(admin)
	writer.QPS, writer.Burst = -1, -1
	writer.ContentType = protobufMedia
	ferry, err := versioned.NewForConfig(writer)
	if err != nil {
		return err
	}
	apps := ferry.GitopsV1alpha1().Applications(uiNamespace)
	if err := apps.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		return fmt.Errorf("deleting the Applications of an earlier run: %w", err)
	}
	defer func() {
		if err := apps.DeleteCollection(context.WithoutCancel(ctx), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			b.logf("cleaning up the UI's Applications: %v", err)
		}
	}()

	b.logf("UI: creating %d Applications with their status (synced/out-of-sync, healthy/degraded/progressing)", n)
	if _, err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		app := sampleApplication(i, false)
		app.Namespace = uiNamespace
		created, err := apps.Create(ctx, app, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		sampleStatus(created)
		created.Status.Sync.Status, created.Status.Health.Status = statusMix(i)
		if created.Status.Health.Status == gitopsv1alpha1.HealthDegraded {
			created.Status.Health.Message = "Deployment prod-deployment-4: 0 of 3 replicas available"
		}
		_, err = apps.UpdateStatus(ctx, created, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return fmt.Errorf("creating the UI's Applications: %w", err)
	}

	// The UI's client is what kubectl ferry ui builds from a kubeconfig: protobuf for Ferry's
	// API, kubectl's rate limits, no overall timeout (the watch lives as long as the page).
	person := rest.CopyConfig(admin)
	person.QPS, person.Burst, person.Timeout = 0, 0, 0
	client, err := versioned.NewForConfig(plugin.FerryClientConfig(person))
	if err != nil {
		return err
	}
	personKube, err := kubernetes.NewForConfig(person)
	if err != nil {
		return err
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	srv, err := ui.New(ui.Config{Client: client, Kube: personKube, Context: "bench"})
	if err != nil {
		return err
	}
	l, err := ui.Listen("127.0.0.1", 0)
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	var serverMu sync.Mutex
	var serverTimes []time.Duration // GET / as the UI server spends it: API list, rows, template
	handler := srv.Handler(port)
	httpSrv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		handler.ServeHTTP(w, r)
		if r.Method == http.MethodGet && r.URL.Path == "/" && r.URL.Query().Get("token") == "" {
			serverMu.Lock()
			serverTimes = append(serverTimes, time.Since(start))
			serverMu.Unlock()
		}
	})}
	go func() { _ = httpSrv.Serve(l) }()
	defer httpSrv.Close()
	origin := "http://127.0.0.1:" + strconv.Itoa(port)

	browser, stopBrowser, err := startChromium(browserPath)
	if err != nil {
		return err
	}
	defer stopBrowser()
	do := func(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) error {
		c, cancel := context.WithTimeout(browser, timeout)
		defer cancel()
		if err := chromedp.Do(c, actions...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	eval := func(expr string) (string, error) {
		c, cancel := context.WithTimeout(browser, 10*time.Second)
		defer cancel()
		return chromedp.Run(c, chromedp.Evaluate[string](expr))
	}
	// The printed URL once: its secret becomes the cookie, the styles and script are cached.
	if err := do("opening the URL with its secret", time.Minute, chromedp.Navigate(srv.URL(l.Addr()))); err != nil {
		return err
	}

	// (a) The first page: navigation to rendered rows, a few times; the API's list alone with
	// the same client for comparison.
	wantRows := min(n, 100)
	loads := max(3, b.cfg.Repeats)
	peak := newHeapPeak()
	var walls, afters []time.Duration
	var timing navTiming
	serverMu.Lock()
	serverTimes = nil
	serverMu.Unlock()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range loads {
		b.logf("UI: loading the first page of %d Applications (%d/%d)", n, i+1, loads)
		start := time.Now()
		if err := do("loading the list", 2*time.Minute, chromedp.Navigate(origin+"/")); err != nil {
			return err
		}
		wall := time.Since(start)
		out, err := eval(navTimingJS)
		if err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(out), &timing); err != nil {
			return fmt.Errorf("navigation timing %q: %w", out, err)
		}
		if timing.Rows != wantRows {
			return fmt.Errorf("the first page shows %d rows, want %d", timing.Rows, wantRows)
		}
		walls = append(walls, wall)
		afters = append(afters, time.Duration((timing.Load-timing.TTFB)*float64(time.Millisecond)))
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peakHeap := peak.stop()
	serverMu.Lock()
	server := median(serverTimes)
	serverMu.Unlock()
	listTime, err := repeat(loads, func() (time.Duration, error) {
		return timed(func() error {
			list, err := client.GitopsV1alpha1().Applications("").List(ctx, metav1.ListOptions{})
			if err == nil && len(list.Items) < n {
				err = fmt.Errorf("listed %d Applications, want %d", len(list.Items), n)
			}
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("listing as the UI does: %w", err)
	}
	nextPage := time.Duration(0)
	if n > 100 {
		var nexts []time.Duration
		for range loads {
			start := time.Now()
			if err := do("loading page 2", 2*time.Minute, chromedp.Navigate(origin+"/?page=2")); err != nil {
				return err
			}
			nexts = append(nexts, time.Since(start))
		}
		nextPage = median(nexts)
	}
	first := median(walls)
	b.report.add(Row{Scenario: "ui", Metric: "first page rendered: navigation -> load (median)", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(first)}, Target: "<= 2000 ms",
		Note: fmt.Sprintf("median of %d loads; Argo CD reports 35 s to first list 8,000 Applications (argo-cd#9575, their hardware)", loads)})
	b.report.add(Row{Scenario: "ui", Metric: "  of it: UI server's GET / (list + rows + template)", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(server)}})
	b.report.add(Row{Scenario: "ui", Metric: "  of that: the API's LIST, as the UI's client (protobuf)", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(listTime)}})
	b.report.add(Row{Scenario: "ui", Metric: "  of it: first byte -> load event in chromium", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(median(afters))}})
	b.report.add(Row{Scenario: "ui", Metric: "first page HTML transferred", Size: n, Unit: "KiB", Values: map[string]float64{"ferry": timing.Transfer / 1024},
		Note: fmt.Sprintf("%d rows, %d DOM elements", timing.Rows, timing.Elements)})
	if nextPage > 0 {
		b.report.add(Row{Scenario: "ui", Metric: "page 2 rendered (median)", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(nextPage)}})
	}
	b.report.add(Row{Scenario: "ui", Metric: "UI server: Go heap allocated per page load", Size: n, Unit: "MiB", Values: map[string]float64{"ferry": mib(int64(after.TotalAlloc-before.TotalAlloc) / int64(loads))},
		Note: "runtime.MemStats.TotalAlloc of the driver's process, which serves the UI in-process"})
	b.report.add(Row{Scenario: "ui", Metric: "UI server: peak Go heap in use during loads, above before", Size: n, Unit: "MiB", Values: map[string]float64{"ferry": mib(int64(peakHeap) - int64(base.HeapInuse))},
		Note: "runtime.MemStats.HeapInuse sampled every 20 ms"})

	// (b) A status change's way to the open page: one write at a time to an Application of the
	// first page; the page records when the new row arrives.
	if err := do("opening the first page", 2*time.Minute, chromedp.Navigate(origin+"/")); err != nil {
		return err
	}
	if err := waitEval(eval, `document.body.dataset.live || ""`, "open", 30*time.Second); err != nil {
		return fmt.Errorf("the live stream did not open: %w", err)
	}
	if _, err := eval(observeJS); err != nil {
		return err
	}
	changes := b.cfg.WatchEvents
	if changes > 100 {
		changes = 100
	}
	b.logf("UI: %d status changes to Applications shown on the open page", changes)
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	var lat, sentLat []time.Duration
	for i := range changes {
		name := appName(rng.IntN(wantRows))
		app, err := apps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		marker := fmt.Sprintf("%040x", uint64(time.Now().UnixNano())+uint64(i))
		app.Status.Sync.Revision = marker
		if app.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced {
			app.Status.Sync.Status = gitopsv1alpha1.SyncStatusOutOfSync
		} else {
			app.Status.Sync.Status = gitopsv1alpha1.SyncStatusSynced
		}
		sent := time.Now()
		if _, err := apps.UpdateStatus(ctx, app, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("writing %s's status: %w", name, err)
		}
		wrote := time.Now()
		seen, err := waitSeen(eval, marker, 10*time.Second)
		if err != nil {
			return fmt.Errorf("change %d (%s): %w", i, name, err)
		}
		// The row often changes before the write's response is decoded here: 0 then.
		lat = append(lat, max(0, seen.Sub(wrote)))
		sentLat = append(sentLat, seen.Sub(sent))
	}
	b.report.add(Row{Scenario: "ui", Metric: "status write -> row changed in the open page p50", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(percentile(lat, 50))},
		Note: fmt.Sprintf("%d writes, one at a time, to rows of the open page; a MutationObserver stamps the new row", len(lat))})
	b.report.add(Row{Scenario: "ui", Metric: "status write -> row changed in the open page p99", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(percentile(lat, 99))}, Target: "<= 1000 ms"})
	b.report.add(Row{Scenario: "ui", Metric: "status write sent -> row changed p50", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(percentile(sentLat, 50))},
		Note: "from before the PUT /status, so it includes the write itself"})
	b.report.add(Row{Scenario: "ui", Metric: "status write sent -> row changed p99", Size: n, Unit: "ms", Values: map[string]float64{"ferry": ms(percentile(sentLat, 99))}})

	// (c) Memory with the page open, after the changes.
	runtime.GC()
	var open runtime.MemStats
	runtime.ReadMemStats(&open)
	b.report.add(Row{Scenario: "ui", Metric: "UI server: Go heap in use with the page open, above before", Size: n, Unit: "MiB", Values: map[string]float64{"ferry": mib(int64(open.HeapInuse) - int64(base.HeapInuse))},
		Note: "after a GC; the UI keeps no cache, only the page's watch"})
	heap, err := chromedp.Run(browser, chromedp.Action[cdpruntime.GetHeapUsageResult](func(ctx context.Context, t *chromedp.Target) (cdpruntime.GetHeapUsageResult, error) {
		if _, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			return cdpruntime.GetHeapUsageResult{}, err
		}
		return cdp.Call(ctx, t, cdpruntime.GetHeapUsage, cdp.Empty{})
	}))
	if err != nil {
		return fmt.Errorf("reading the page's JavaScript heap: %w", err)
	}
	b.report.add(Row{Scenario: "ui", Metric: "page's JavaScript heap used, after a GC", Size: n, Unit: "MiB", Values: map[string]float64{"ferry": heap.UsedSize / (1 << 20)},
		Note: "CDP Runtime.getHeapUsage after HeapProfiler.collectGarbage"})
	return nil
}

// waitSeen polls the page until it has recorded the row showing marker and returns when.
func waitSeen(eval func(string) (string, error), marker string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, err := eval(`String(window.ferrySeen[` + strconv.Quote(marker) + `] || 0)`)
		if err != nil {
			return time.Time{}, err
		}
		if v, err := strconv.ParseFloat(out, 64); err == nil && v > 0 {
			return epochMillis(v), nil
		}
		time.Sleep(5 * time.Millisecond) // polling the browser; the page itself stamps the time
	}
	return time.Time{}, fmt.Errorf("the page did not show revision %s within %s", marker, timeout)
}

// waitEval polls expr in the page until it equals want.
func waitEval(eval func(string) (string, error), expr, want string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	got := ""
	for time.Now().Before(deadline) {
		var err error
		if got, err = eval(expr); err != nil {
			return err
		}
		if got == want {
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("%s is %q, want %q", expr, got, want)
}

// heapPeak samples the Go heap in use until stopped and returns the highest.
type heapPeak struct {
	stopc chan struct{}
	done  chan uint64
}

func newHeapPeak() *heapPeak {
	p := &heapPeak{stopc: make(chan struct{}), done: make(chan uint64, 1)}
	go func() {
		var m runtime.MemStats
		peak := uint64(0)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-p.stopc:
				p.done <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *heapPeak) stop() uint64 {
	close(p.stopc)
	return <-p.done
}

// chromiumPath finds Debian's chromium, as the browser tests do.
func chromiumPath() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the ui scenario needs chromium (hack/ensure-chromium.sh installs it)")
}

// startChromium starts a headless chromium with a fresh profile, as test/e2e's browser tests do.
func startChromium(path string) (context.Context, func(), error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	stop := func() { cancel(); cancelAlloc() }
	// The first action starts the browser, which lives as long as that call's context.
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("starting chromium: %w", err)
	}
	return ctx, stop, nil
}
