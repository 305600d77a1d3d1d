package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	polling "github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// startUI runs `kubectl ferry ui --no-browser --port 0 -n ns` as user and returns the URL it
// prints; the process is stopped at cleanup.
func (p *ferryPlugin) startUI(t *testing.T, user, ns string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, p.bin, "ui", "--no-browser", "--port", "0", "-n", ns, "--kubeconfig", p.s.kubeconfig(user))
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kubectl ferry ui (as %s) stderr:\n%s", user, stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "Ferry UI: http://127.0.0.1:") {
			t.Fatalf("kubectl ferry ui (as %s) printed %q, want its URL; stderr:\n%s", user, line, stderr.String())
		}
		return strings.TrimPrefix(line, "Ferry UI: ")
	case <-time.After(time.Minute):
		t.Fatalf("kubectl ferry ui (as %s) printed no URL within a minute; stderr:\n%s", user, stderr.String())
	}
	return ""
}

// chromium is Debian's browser; `make test` needs it (.ci/run installs it), so its absence fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("chromium is not installed: the web UI's browser test needs it (apt-get install chromium; .ci/run installs it)")
	return ""
}

// newBrowser starts a headless chromium with a profile of its own and returns a tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
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
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as that call's context: no
	// timeout on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// newTab opens another tab of the browser of ctx.
func newTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	t.Cleanup(cancel)
	// As for the browser, the tab lives as long as the context of its first action.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tab
}

// run runs browser actions within 30s.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page and returns its string value.
func eval(ctx context.Context, expr string) (string, error) {
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(c, chromedp.Evaluate[string](expr))
}

// rowState is a script giving "sync/health" of the row of ns/name as the page shows it, "absent"
// without one.
func rowState(ns, name string) string {
	return fmt.Sprintf(`(function(){var r=document.getElementById(%q);return r?r.dataset.sync+"/"+r.dataset.health:"absent"})()`, "app/"+ns+"/"+name)
}

// waitDOM polls expr in the page every 25 ms until it equals want, failing after timeout.
func waitDOM(t *testing.T, ctx context.Context, timeout time.Duration, what, expr, want string) {
	t.Helper()
	polling.Until(t, timeout, 25*time.Millisecond, what, func() (bool, string) {
		got, err := eval(ctx, expr)
		if err != nil {
			return false, err.Error()
		}
		return got == want, fmt.Sprintf("%q, want %q", got, want)
	})
}

// screenshot saves the whole page as name under t.TempDir(), and under $FERRY_UI_SCREENSHOTS
// when set (the README's pictures come from there).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("FERRY_UI_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d KiB)", p, len(png)/1024)
	}
}

// watchSync records when the API first reports the Application with sync state want, seen by
// an admin watch, so the page's delay behind the API can be measured.
func watchSync(t *testing.T, ns, name string, want gitopsv1alpha1.SyncStatusCode) func() time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	w, err := ferryClient(t, Admin).GitopsV1alpha1().Applications(ns).Watch(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(),
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen time.Time
	go func() {
		for ev := range w.ResultChan() {
			if app, ok := ev.Object.(*gitopsv1alpha1.Application); ok && ev.Type == watch.Modified && app.Status.Sync.Status == want {
				mu.Lock()
				if seen.IsZero() {
					seen = time.Now()
				}
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { w.Stop(); cancel() })
	return func() time.Time { mu.Lock(); defer mu.Unlock(); return seen }
}

// TestUI drives the web UI of kubectl ferry ui in a real headless chromium against the stack:
// the list shows an Application Synced and Healthy; a hand edit of one of its objects turns its
// row OutOfSync without a reload (the page follows a watch); as viewer the Sync button shows the
// API's 403 and changes nothing; as editor it syncs and the row turns Synced again.
func TestUI(t *testing.T) {
	s := requireStack(t)
	chromium(t)
	p := buildPlugin(t, s)

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("ui")
	repo.Commit("main", map[string]string{
		"app/cm.yaml":      configMapYAML("ui-settings", "v1"),
		"app/service.yaml": serviceYAML("ui-web"),
		"api/cm.yaml":      configMapYAML("ui-api", "v1"),
	}, "first")
	ns := newNamespace(t, "ui")
	// The built-in view and edit roles, which Ferry's roles aggregate into, as people have them.
	kubectl(t, "create", "rolebinding", "viewer", "--clusterrole=view", "--user=viewer", "-n", ns)
	kubectl(t, "create", "rolebinding", "editor", "--clusterrole=edit", "--user=editor", "-n", ns)
	// Automated but without selfHeal, so a hand edit stays until someone syncs.
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", ns, map[string]any{"syncPolicy.automated": map[string]any{"prune": true}}), "apply", "-f", "-")
	kubectlStdin(t, Admin, gitApp(ns, "api", repo, "api", ns, nil), "apply", "-f", "-")
	for _, name := range []string{"web", "api"} {
		waitApp(t, ns, name, name+": Synced and Healthy", func(a *gitopsv1alpha1.Application) bool {
			return synced(a) && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
		})
	}
	eventually(t, 30*time.Second, "editor may sync", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev/sync", "-n", ns, "--as=editor")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})
	eventually(t, 30*time.Second, "viewer may list", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "watch", "applications.gitops.ferry.dev", "-n", ns, "--as=viewer")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})

	editorURL := p.startUI(t, "editor", ns)
	viewerURL := p.startUI(t, "viewer", ns)
	browser := newBrowser(t)
	rowExpr := rowState(ns, "web")

	t.Run("the list shows the Application Synced and Healthy", func(t *testing.T) {
		start := time.Now()
		run(t, browser, "open the printed URL", chromedp.Navigate(editorURL))
		waitDOM(t, browser, 10*time.Second, "web's row", rowExpr, "Synced/Healthy")
		t.Logf("first list render: %s from navigating to the printed URL", time.Since(start).Round(time.Millisecond))
		loc, err := chromedp.Run(browser, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(loc, "token=") {
			t.Errorf("the address bar still holds the secret: %s", loc)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("a hand edit turns the row OutOfSync without a reload", func(t *testing.T) {
		// A reload would clear this mark.
		if _, err := eval(browser, `window.ferryMark = "kept"`); err != nil {
			t.Fatal(err)
		}
		waitDOM(t, browser, 10*time.Second, "the live stream open", `document.body.dataset.live || ""`, "open")
		apiSaw := watchSync(t, ns, "web", gitopsv1alpha1.SyncStatusOutOfSync)
		edited := time.Now()
		kubectl(t, "patch", "configmap", "ui-settings", "-n", ns, "--type=merge", "-p", `{"data":{"value":"by hand"}}`)
		waitDOM(t, browser, 2*time.Second, "web's row OutOfSync within 2s of the hand edit", rowExpr, "OutOfSync/Healthy")
		shown := time.Now()
		if api := apiSaw(); !api.IsZero() {
			t.Logf("kubectl patch started → row OutOfSync: %s (the API reported OutOfSync after %s; the page followed %s later)",
				shown.Sub(edited).Round(time.Millisecond), api.Sub(edited).Round(time.Millisecond), shown.Sub(api).Round(time.Millisecond))
		}
		if mark, err := eval(browser, `window.ferryMark || "reloaded"`); err != nil || mark != "kept" {
			t.Errorf("the page was reloaded (%q, %v); the row must change in place", mark, err)
		}
		screenshot(t, browser, "ui-applications.png")
	})
	if t.Failed() {
		return
	}

	before := getApp(t, ns, "web")
	t.Run("as viewer the Sync button shows the API's 403 and changes nothing", func(t *testing.T) {
		tab := newTab(t, browser)
		run(t, tab, "open the viewer's UI", chromedp.Navigate(viewerURL))
		waitDOM(t, tab, 10*time.Second, "web's row as viewer", rowExpr, "OutOfSync/Healthy")
		run(t, tab, "open web's page", chromedp.Click(chromedp.CSS(`a[href="/applications/`+ns+`/web"]`)), chromedp.WaitVisible(chromedp.CSS("#sync-button")))
		run(t, tab, "click Sync", chromedp.Click(chromedp.CSS("#sync-button")))
		waitDOM(t, tab, 10*time.Second, "the refusal shown", `document.getElementById("sync-result").dataset.status || ""`, "403")
		msg, err := eval(tab, `document.getElementById("sync-result").textContent`)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{`User "viewer" cannot create resource "applications/sync" in API group "gitops.ferry.dev"`, `"web" is forbidden`} {
			if !strings.Contains(msg, want) {
				t.Errorf("the page says %q; want the API's own message, with %q", msg, want)
			}
		}
		after := getApp(t, ns, "web")
		if after.Status.Operation != nil && (before.Status.Operation == nil || after.Status.Operation.ID != before.Status.Operation.ID) {
			t.Errorf("the viewer's click recorded operation %s", after.Status.Operation.ID)
		}
		if after.Status.Sync.Status != gitopsv1alpha1.SyncStatusOutOfSync {
			t.Errorf("after the viewer's click web is %s, want still OutOfSync", after.Status.Sync.Status)
		}
		if v, _ := configMapValue(t, ns, "ui-settings"); v != "by hand" {
			t.Errorf("after the viewer's click ui-settings = %q, want the hand edit kept", v)
		}
	})

	t.Run("as editor the Sync button syncs", func(t *testing.T) {
		run(t, browser, "open web's page", chromedp.Click(chromedp.CSS(`a[href="/applications/`+ns+`/web"]`)), chromedp.WaitVisible(chromedp.CSS("#sync-button")))
		run(t, browser, "click Sync", chromedp.Click(chromedp.CSS("#sync-button")))
		waitDOM(t, browser, 10*time.Second, "the sync accepted", `document.getElementById("sync-result").dataset.status || ""`, "201")
		waitDOM(t, browser, syncTimeout, "web's page live: Synced", `document.getElementById("app-sync").dataset.sync`, "Synced")
		if v, _ := configMapValue(t, ns, "ui-settings"); v != "v1" {
			t.Errorf("after the editor's sync ui-settings = %q, want Git's v1", v)
		}
		app := getApp(t, ns, "web")
		if op := app.Status.Operation; op == nil || op.RequestedBy.Username != "editor" {
			t.Errorf("status.operation %+v, want one requested by editor", op)
		}
		waitDOM(t, browser, 10*time.Second, "the history shows the editor's sync", `String(document.getElementById("app-live").textContent.indexOf("editor") >= 0)`, "true")
		screenshot(t, browser, "ui-application.png")
		run(t, browser, "back to the list", chromedp.Click(chromedp.CSS(`nav[aria-label="Main"] a`)))
		waitDOM(t, browser, 10*time.Second, "web's row Synced", rowExpr, "Synced/Healthy")
	})

	t.Run("usable by keyboard, at phone width and in dark mode", func(t *testing.T) {
		tab := newTab(t, browser)
		run(t, tab, "open the list at 1280x800", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(editorURL))
		waitDOM(t, tab, 10*time.Second, "web's row", rowExpr, "Synced/Healthy")
		// The first Tab reaches "Skip to content", with a visible focus ring.
		run(t, tab, "press Tab", chromedp.KeyEvent(kb.Tab))
		focus := `document.activeElement.textContent + " / " + getComputedStyle(document.activeElement).outlineStyle`
		waitDOM(t, tab, 5*time.Second, "the skip link focused, outlined", focus, "Skip to content / solid")
		// Nothing is wider than a phone's screen: wide tables scroll by themselves.
		fits := `String(document.documentElement.scrollWidth <= window.innerWidth)`
		run(t, tab, "phone width", chromedp.EmulateViewport(390, 844))
		for _, page := range []string{"/", "/applications/" + ns + "/web", "/applications/" + ns + "/web/tree", "/applications/" + ns + "/web/events"} {
			run(t, tab, "open "+page, chromedp.Navigate(strings.SplitN(editorURL, "/?", 2)[0]+page), chromedp.WaitVisible(chromedp.CSS("main h1")))
			if got := mustEval(t, tab, fits); got != "true" {
				t.Errorf("%s at 390 px is %s px wide", page, mustEval(t, tab, `String(document.documentElement.scrollWidth)`))
			}
			if page == "/applications/"+ns+"/web" {
				screenshot(t, tab, "ui-phone.png")
			}
		}
		// Dark follows the system setting.
		run(t, tab, "prefer dark, 1280x800", chromedp.EmulateViewport(1280, 800),
			chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
				_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia,
					emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
				return err
			}),
			chromedp.Navigate(strings.SplitN(editorURL, "/?", 2)[0]+"/"))
		waitDOM(t, tab, 10*time.Second, "web's row", rowExpr, "Synced/Healthy")
		if bg := mustEval(t, tab, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(13, 17, 23)" {
			t.Errorf("in dark mode the page's background is %s, want the dark palette's", bg)
		}
		screenshot(t, tab, "ui-dark.png")
	})
}
