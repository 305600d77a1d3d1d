package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

func testApp(ns, name string, sync gitopsv1alpha1.SyncStatusCode) *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, ResourceVersion: "7", CreationTimestamp: metav1.NewTime(time.Now().Add(-time.Hour))},
		Spec:       gitopsv1alpha1.ApplicationSpec{Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example/shop.git", Revision: "main", Path: "app"}},
		Status: gitopsv1alpha1.ApplicationStatus{
			Sync:   gitopsv1alpha1.SyncStatus{Status: sync, Revision: strings.Repeat("ab", 20)},
			Health: gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthHealthy},
		},
	}
}

// uiServer is the UI on a loopback listener, as kubectl ferry ui serves it.
type uiServer struct {
	*Server
	client *fake.Clientset
	base   string // http://127.0.0.1:P
	port   int
}

func startUI(t *testing.T, objs ...runtime.Object) *uiServer {
	t.Helper()
	return startUIWith(t, Config{Client: fake.NewSimpleClientset(objs...)})
}

func startUIWith(t *testing.T, cfg Config) *uiServer {
	t.Helper()
	client := cfg.Client.(*fake.Clientset)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	ts := &httptest.Server{Listener: l, Config: &http.Server{Handler: srv.Handler(port)}}
	ts.Start()
	t.Cleanup(ts.Close)
	return &uiServer{Server: srv, client: client, base: "http://127.0.0.1:" + strconv.Itoa(port), port: port}
}

func (u *uiServer) cookieName() string { return cookiePrefix + strconv.Itoa(u.port) }

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (u *uiServer) do(t *testing.T, method, path string, edit func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

// login exchanges the URL's secret for the cookie, as the browser does on the printed URL.
func (u *uiServer) login(t *testing.T) *http.Cookie {
	t.Helper()
	resp, _ := u.do(t, http.MethodGet, "/?"+url.Values{"token": {u.Token()}}.Encode(), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET with the URL's secret: %s, want 303 See Other", resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == u.cookieName() {
			return c
		}
	}
	t.Fatalf("no %s cookie set: %v", u.cookieName(), resp.Header["Set-Cookie"])
	return nil
}

func withCookie(c *http.Cookie) func(*http.Request) { return func(r *http.Request) { r.AddCookie(c) } }

func checkSecurityHeaders(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"X-Frame-Options":        "DENY",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
		t.Errorf("%s: Content-Security-Policy = %q, want default-src 'self'", what, csp)
	}
	for k := range resp.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("%s: a CORS header was sent: %s: %s", what, k, resp.Header.Get(k))
		}
	}
}

func TestSecretURLIsExchangedForAStrictHttpOnlyCookie(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced))
	if n := len(u.Token()); n != 43 {
		t.Errorf("the secret is %d characters, want 43 (32 bytes in unpadded base64url)", n)
	}
	resp, _ := u.do(t, http.MethodGet, "/?q=we&token="+url.QueryEscape(u.Token()), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("GET with the secret: %s, want 303", resp.Status)
	}
	if loc := resp.Header.Get("Location"); loc != "/?q=we" {
		t.Errorf("redirect to %q, want the same URL without the secret, /?q=we", loc)
	}
	checkSecurityHeaders(t, "the exchange", resp)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == u.cookieName() {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no cookie: %v", resp.Header["Set-Cookie"])
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("cookie %q: want HttpOnly, SameSite=Strict, Path=/", resp.Header.Get("Set-Cookie"))
	}
	if cookie.Value == u.Token() {
		t.Errorf("the cookie holds the URL's secret; want a secret of its own")
	}
	resp, body := u.do(t, http.MethodGet, "/", withCookie(cookie))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="app/shop/web"`) {
		t.Fatalf("GET / with the cookie: %s, want 200 with the Application's row:\n%s", resp.Status, body)
	}
	checkSecurityHeaders(t, "the list", resp)
}

func TestRequestsWithoutTheSecretAre401(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced))
	u.login(t)
	for name, edit := range map[string]func(*http.Request){
		"no cookie":    nil,
		"wrong cookie": withCookie(&http.Cookie{Name: u.cookieName(), Value: strings.Repeat("A", 43)}),
		"wrong token": func(r *http.Request) {
			r.URL.RawQuery = "token=" + strings.Repeat("A", 43)
		},
	} {
		for _, path := range []string{"/", "/applications/shop/web", "/events?view=list", "/static/app.js"} {
			resp, body := u.do(t, http.MethodGet, path, edit)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: GET %s: %s, want 401", name, path, resp.Status)
			}
			if strings.Contains(body, "web") && path != "/static/app.js" {
				t.Errorf("%s: GET %s shows the Application: %s", name, path, body)
			}
			checkSecurityHeaders(t, name+" "+path, resp)
		}
	}
}

func TestWrongHostIsRefused(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced))
	cookie := u.login(t)
	p := strconv.Itoa(u.port)
	for _, host := range []string{"evil.example:" + p, "127.0.0.1:1", "localhost", "127.0.0.2:" + p, "attacker.localhost:" + p} {
		resp, _ := u.do(t, http.MethodGet, "/", func(r *http.Request) { r.Host = host; r.AddCookie(cookie) })
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("Host %s with the cookie: %s, want 403", host, resp.Status)
		}
		resp, _ = u.do(t, http.MethodGet, "/?token="+url.QueryEscape(u.Token()), func(r *http.Request) { r.Host = host })
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("Host %s with the secret: %s, cookies %v; want 403 and no cookie", host, resp.Status, resp.Cookies())
		}
	}
	for _, host := range []string{"127.0.0.1:" + p, "localhost:" + p} {
		if resp, _ := u.do(t, http.MethodGet, "/", func(r *http.Request) { r.Host = host; r.AddCookie(cookie) }); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: %s, want 200", host, resp.Status)
		}
	}
}

// syncActions counts the sync requests that reached the API.
func syncActions(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "create" && a.GetSubresource() == "sync" {
			n++
		}
	}
	return n
}

func TestPostNeedsTheCSRFHeader(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	u.client.PrependReactor("create", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "sync" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationSync{Status: gitopsv1alpha1.ApplicationSyncStatus{OperationID: "op-1", Phase: gitopsv1alpha1.OperationPending}}, nil
	})
	cookie := u.login(t)
	for name, edit := range map[string]func(*http.Request){
		"without the header":   withCookie(cookie),
		"with a wrong value":   func(r *http.Request) { r.AddCookie(cookie); r.Header.Set(CSRFHeader, "0") },
		"header but no cookie": func(r *http.Request) { r.Header.Set(CSRFHeader, "1") },
		"form post with cookie": func(r *http.Request) {
			r.AddCookie(cookie)
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		},
		"from another origin": func(r *http.Request) {
			r.AddCookie(cookie)
			r.Header.Set(CSRFHeader, "1")
			r.Header.Set("Origin", "http://evil.example")
		},
	} {
		resp, _ := u.do(t, http.MethodPost, "/applications/shop/web/sync", edit)
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST /sync %s: %s, want 403 (or 401 without the cookie)", name, resp.Status)
		}
	}
	if n := syncActions(u.client); n != 0 {
		t.Fatalf("%d sync requests reached the API without the cookie and the header", n)
	}
	resp, body := u.do(t, http.MethodPost, "/applications/shop/web/sync", func(r *http.Request) {
		r.AddCookie(cookie)
		r.Header.Set(CSRFHeader, "1")
		r.Header.Set("Origin", u.base)
	})
	if resp.StatusCode != http.StatusCreated || !strings.Contains(body, "op-1") {
		t.Fatalf("POST /sync with cookie and header: %s %s, want 201 naming the operation", resp.Status, body)
	}
	if n := syncActions(u.client); n != 1 {
		t.Fatalf("%d sync requests reached the API, want 1", n)
	}
}

func TestSyncRefusedByTheAPIShowsItsMessage(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	forbidden := apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications"}, "web",
		errors.New(`User "viewer" cannot create resource "applications/sync" in API group "gitops.ferry.dev" in the namespace "shop"`))
	u.client.PrependReactor("create", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return a.GetSubresource() == "sync", nil, forbidden
	})
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodPost, "/applications/shop/web/sync", func(r *http.Request) { r.AddCookie(cookie); r.Header.Set(CSRFHeader, "1") })
	var got syncResult
	_ = json.Unmarshal([]byte(body), &got)
	if resp.StatusCode != http.StatusForbidden || got.Message != forbidden.ErrStatus.Message {
		t.Fatalf("POST /sync refused by the API: %s %s; want 403 with the API's message %q", resp.Status, body, forbidden.ErrStatus.Message)
	}
}

func TestNonLoopbackAddressIsRefused(t *testing.T) {
	for _, a := range []string{"0.0.0.0", "::", "192.0.2.10", "10.0.0.1", "example.com", ""} {
		if l, err := Listen(a, 0); err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded; want a refusal (loopback only)", a)
		} else if !strings.Contains(err.Error(), "loopback") {
			t.Errorf("Listen(%q): %v; want the error to say loopback only", a, err)
		}
	}
	for _, a := range []string{"127.0.0.1", "localhost", "::1"} {
		if _, err := LoopbackIP(a); err != nil {
			t.Errorf("LoopbackIP(%q): %v", a, err)
		}
	}
}

func TestEventsStreamRowChangesFromAWatchWithBookmarks(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced))
	fw := watch.NewFake()
	opts := make(chan metav1.ListOptions, 1)
	u.client.PrependWatchReactor("applications", func(a k8stesting.Action) (bool, watch.Interface, error) {
		opts <- a.(k8stesting.WatchActionImpl).ListOptions
		return true, fw, nil
	})
	cookie := u.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/events?view=list&namespace=&rv=7", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("GET /events: %s %s", resp.Status, ct)
	}
	got := <-opts
	if !got.AllowWatchBookmarks || got.ResourceVersion != "7" {
		t.Errorf("watch options %+v; want bookmarks allowed, from resourceVersion 7 (the list's)", got)
	}
	go fw.Modify(testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `app/shop/web`) {
			if !strings.Contains(line, `data-sync=\"OutOfSync\"`) {
				t.Fatalf("row update %s; want the row rendered OutOfSync", line)
			}
			return
		}
	}
	t.Fatalf("the stream ended without the row's update: %v", sc.Err())
}

func TestAssetsAreEmbeddedAndNothingIsFetchedElsewhere(t *testing.T) {
	for _, fsys := range []fs.FS{templateFS, staticFS} {
		err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			for _, bad := range []string{"http://", "https://", `src="//`, `href="//`} {
				if strings.Contains(string(data), bad) {
					t.Errorf("%s refers to %s: every asset must be served by the UI itself", path, bad)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	u := startUI(t)
	cookie := u.login(t)
	for _, p := range []string{"/static/app.js", "/static/style.css"} {
		if resp, body := u.do(t, http.MethodGet, p, withCookie(cookie)); resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %s", p, resp.Status)
		}
	}
}

// TestEventsRelistWhenTheWatchExpires: a watch that cannot resume (410 Gone) is followed by a
// new list, sent whole, so the page misses no change.
func TestEventsRelistWhenTheWatchExpires(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	expired := watch.NewFake()
	again := watch.NewFake()
	watches := 0
	u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) {
		watches++
		if watches == 1 {
			return true, expired, nil
		}
		return true, again, nil
	})
	cookie := u.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/events?view=list&namespace=&rv=3", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	go expired.Error(&metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: "too old resource version: 3"})
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "event: problem") {
			t.Fatalf("the stream gave up on an expired watch instead of listing again")
		}
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"id":"apps-body"`) {
			if !strings.Contains(line, `data-sync=\"OutOfSync\"`) {
				t.Fatalf("the table sent after the new list lacks web's row: %s", line)
			}
			return
		}
	}
	t.Fatalf("the stream ended without sending the table again: %v", sc.Err())
}

// TestApplicationPageStreamsOnlyItsApplication: an Application's page is replaced only by that
// Application, whatever else the watch or the list returns.
func TestApplicationPageStreamsOnlyItsApplication(t *testing.T) {
	// The fake clientset ignores field selectors: its list returns web as well as db.
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced), testApp("shop", "db", gitopsv1alpha1.SyncStatusOutOfSync))
	fw := watch.NewFake()
	u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) { return true, fw, nil })
	cookie := u.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.base+"/events?view=app&namespace=shop&name=db", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	degraded := testApp("shop", "db", gitopsv1alpha1.SyncStatusOutOfSync)
	degraded.Status.Health.Status = gitopsv1alpha1.HealthDegraded
	go func() {
		fw.Modify(testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced))
		fw.Modify(degraded)
	}()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "data: ") {
			continue
		}
		if strings.Contains(line, `data-sync=\"Synced\"`) {
			t.Fatalf("db's page was sent web's state: %s", line)
		}
		if strings.Contains(line, `data-health=\"Degraded\"`) {
			return
		}
	}
	t.Fatalf("the stream ended before db's change: %v", sc.Err())
}
