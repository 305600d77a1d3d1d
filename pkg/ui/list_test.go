package ui

import (
	"bufio"
	"context"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// listSelectors are the label selectors of the list calls that reached the API.
func listSelectors(u *uiServer) []string {
	var out []string
	for _, a := range u.client.Actions() {
		if l, ok := a.(k8stesting.ListActionImpl); ok {
			out = append(out, l.ListOptions.LabelSelector)
		}
	}
	return out
}

// openEvents opens the live stream at path and returns its lines.
func openEvents(t *testing.T, u *uiServer, path string) (*http.Response, *bufio.Scanner) {
	t.Helper()
	cookie := u.login(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.base+path, nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	return resp, sc
}

// nextData is the data line of the stream's next event other than a keep-alive.
func nextData(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "data: ") {
			return line
		}
	}
	t.Fatalf("the stream ended: %v", sc.Err())
	return ""
}

func labelled(app *gitopsv1alpha1.Application, kv ...string) *gitopsv1alpha1.Application {
	app.Labels = map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		app.Labels[kv[i]] = kv[i+1]
	}
	return app
}

// TestListLabelSelectorIsCheckedThenFilteredByTheAPI: a label selector in the filter is passed
// to the API's list and watch, so the server filters; a malformed one is refused before any
// request, with an error naming the field, and no rows.
func TestListLabelSelectorIsCheckedThenFilteredByTheAPI(t *testing.T) {
	u := startUI(t,
		labelled(testApp("shop", "pay", gitopsv1alpha1.SyncStatusSynced), "team", "payments", "tier", "web"),
		labelled(testApp("shop", "ledger", gitopsv1alpha1.SyncStatusSynced), "team", "payments", "tier", "db"),
		labelled(testApp("blog", "web", gitopsv1alpha1.SyncStatusSynced), "team", "blog", "tier", "web"))
	cookie := u.login(t)

	resp, body := u.do(t, http.MethodGet, "/?selector="+urlQuery("team in (payments"), withCookie(cookie))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET with a malformed selector: %s, want 400", resp.Status)
	}
	if want := html.EscapeString(`selector: Invalid value: "team in (payments"`); !strings.Contains(body, want) {
		t.Errorf("the page does not name the field and value (%s):\n%s", want, body)
	}
	if n := strings.Count(body, `<tr id="app/`); n != 0 {
		t.Errorf("a malformed selector shows %d rows, want none", n)
	}
	if strings.Contains(body, "data-events=") {
		t.Errorf("a malformed selector opens a live stream")
	}
	if got := listSelectors(u); len(got) != 0 {
		t.Errorf("a malformed selector reached the API: list calls with %q", got)
	}
	resp, _ = u.do(t, http.MethodGet, "/events?view=list&namespace=&rv=7&selector="+urlQuery("tier notin web"), withCookie(cookie))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the live stream with a malformed selector: %s, want 400", resp.Status)
	}
	for _, a := range u.client.Actions() {
		if a.GetVerb() == "watch" || a.GetVerb() == "list" {
			t.Errorf("a malformed selector reached the API: %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	sel := "team=payments,tier in (web)"
	resp, body = u.do(t, http.MethodGet, "/?sort=-name&selector="+urlQuery(sel), withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with selector %q: %s\n%s", sel, resp.Status, body)
	}
	if got := listSelectors(u); len(got) != 1 || got[0] != sel {
		t.Errorf("list calls with label selectors %q, want one with %q", got, sel)
	}
	if got := rowOrder(body); got != "shop/pay" {
		t.Errorf("rows %q, want the one the selector selects, shop/pay", got)
	}
	plain := html.UnescapeString(body)
	for _, want := range []string{
		`name="selector" value="team=payments,tier in (web)"`,
		`href="/?selector=` + urlQuery(sel) + `&sort=name"`,
		`selector=` + urlQuery(sel) + `&sort=-name&view=list`,
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("the page lacks %s (the selector kept in the form, sort links and live stream):\n%s", want, body)
		}
	}

	watched := make(chan string, 1)
	u.client.PrependWatchReactor("applications", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watched <- a.(k8stesting.WatchActionImpl).ListOptions.LabelSelector
		return true, watch.NewFake(), nil
	})
	resp, _ = openEvents(t, u, "/events?view=list&namespace=&rv=7&selector="+urlQuery(sel))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events with selector: %s", resp.Status)
	}
	if got := <-watched; got != sel {
		t.Errorf("the watch's label selector is %q, want %q", got, sel)
	}
}

func urlQuery(s string) string {
	r := strings.NewReplacer(" ", "+", "=", "%3D", ",", "%2C", "(", "%28", ")", "%29")
	return r.Replace(s)
}

// manyApps are n Applications of namespace shop named app-000, app-001, ...
func manyApps(n int) []runtime.Object {
	objs := make([]runtime.Object, n)
	for i := range objs {
		objs[i] = testApp("shop", fmt.Sprintf("app-%03d", i), gitopsv1alpha1.SyncStatusSynced)
	}
	return objs
}

var (
	countLine = regexp.MustCompile(`<p class="count" id="apps-count">([^<]*)</p>`)
	pageLink  = regexp.MustCompile(`<a rel="(prev|next)" href="([^"]*)">`)
)

// TestListRendersOnePageWithLinksThatKeepTheFilterAndOrder: the list renders at most one page
// of rows, after the filter and the order; Previous and Next keep both; a page past the end
// shows the last; the live stream knows the page and only the last, not full, takes new rows.
func TestListRendersOnePageWithLinksThatKeepTheFilterAndOrder(t *testing.T) {
	objs := manyApps(250)
	objs = append(objs, testApp("blog", "app-999", gitopsv1alpha1.SyncStatusSynced))
	u := startUI(t, objs...)
	cookie := u.login(t)
	for _, c := range []struct {
		query, first, last, count string
		links                     map[string]string
		stream                    string
	}{
		{"/?ns=shop&sort=-name", "shop/app-249", "shop/app-150", "Rows 1–100 of 250 · 251 Applications listed · live",
			map[string]string{"next": "/?ns=shop&amp;page=2&amp;sort=-name"}, "/events?namespace=&amp;ns=shop&amp;rv="},
		{"/?ns=shop&sort=-name&page=2", "shop/app-149", "shop/app-050", "Rows 101–200 of 250 · 251 Applications listed · live",
			map[string]string{"prev": "/?ns=shop&amp;sort=-name", "next": "/?ns=shop&amp;page=3&amp;sort=-name"}, "/events?namespace=&amp;ns=shop&amp;page=2&amp;rv="},
		{"/?ns=shop&sort=-name&page=3", "shop/app-049", "shop/app-000", "Rows 201–250 of 250 · 251 Applications listed · live",
			map[string]string{"prev": "/?ns=shop&amp;page=2&amp;sort=-name"}, "/events?append=1&amp;namespace=&amp;ns=shop&amp;page=3&amp;rv="},
		{"/?ns=shop&sort=-name&page=40", "shop/app-049", "shop/app-000", "Rows 201–250 of 250 · 251 Applications listed · live",
			map[string]string{"prev": "/?ns=shop&amp;page=2&amp;sort=-name"}, "/events?append=1&amp;namespace=&amp;ns=shop&amp;page=3&amp;rv="},
		{"/?q=app-999", "blog/app-999", "blog/app-999", "Rows 1–1 of 1 · 251 Applications listed · live", map[string]string{}, "/events?append=1&amp;namespace=&amp;q=app-999&amp;rv="},
	} {
		resp, body := u.do(t, http.MethodGet, c.query, withCookie(cookie))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", c.query, resp.Status)
		}
		ids := strings.Fields(rowOrder(body))
		if len(ids) > pageSize || len(ids) == 0 || ids[0] != c.first || ids[len(ids)-1] != c.last {
			t.Errorf("GET %s: %d rows from %v to %v, want at most %d from %s to %s", c.query, len(ids), ids[:min(1, len(ids))], ids[max(0, len(ids)-1):], pageSize, c.first, c.last)
		}
		if m := countLine.FindStringSubmatch(body); m == nil || m[1] != c.count {
			t.Errorf("GET %s: count %q, want %q", c.query, m, c.count)
		}
		links := map[string]string{}
		for _, m := range pageLink.FindAllStringSubmatch(body, -1) {
			if old, ok := links[m[1]]; ok && old != m[2] {
				t.Errorf("GET %s: two %s links, %s and %s", c.query, m[1], old, m[2])
			}
			links[m[1]] = m[2]
		}
		if fmt.Sprint(links) != fmt.Sprint(c.links) {
			t.Errorf("GET %s: page links %v, want %v", c.query, links, c.links)
		}
		if !strings.Contains(body, c.stream) {
			t.Errorf("GET %s: the live stream's URL lacks %s:\n%s", c.query, c.stream, body[:strings.Index(body, "<main")])
		}
		if strings.Contains(c.stream, "page=2") && strings.Contains(body, "append=1") {
			t.Errorf("GET %s: a full page that is not the last takes new rows", c.query)
		}
	}
	// Sorting starts again at the first page.
	_, body := u.do(t, http.MethodGet, "/?ns=shop&sort=-name&page=2", withCookie(cookie))
	if !strings.Contains(body, `<a class="sort" href="/?ns=shop&amp;sort=namespace">`) {
		t.Errorf("a sort link keeps the page, or loses the filter:\n%s", body)
	}
}

// TestListStreamAppendsOnlyToTheLastPageAndRelistsThePage: a row that is not on the page (a new
// one, or one of another page) is sent without a parent, so the page only replaces rows it
// shows; on the last page, not full, it is appended; after a 410 the same page is sent again,
// not the whole list.
func TestListStreamAppendsOnlyToTheLastPageAndRelistsThePage(t *testing.T) {
	for _, c := range []struct {
		query, parent string
	}{
		{"/events?view=list&namespace=&rv=7&page=1", ""},
		{"/events?view=list&namespace=&rv=7&page=2&append=1", "apps-body"},
	} {
		u := startUI(t, manyApps(150)...)
		fw := watch.NewFake()
		u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) { return true, fw, nil })
		_, sc := openEvents(t, u, c.query)
		go fw.Add(testApp("shop", "app-500", gitopsv1alpha1.SyncStatusOutOfSync))
		line := nextData(t, sc)
		if !strings.Contains(line, `"id":"app/shop/app-500"`) {
			t.Fatalf("%s: first event %s, want app-500's row", c.query, line)
		}
		hasParent := strings.Contains(line, `"parent":"apps-body"`)
		if hasParent != (c.parent != "") {
			t.Errorf("%s: the new row's message %s; want a parent only on the last page, not full", c.query, line)
		}
	}

	u := startUI(t, manyApps(150)...)
	expired, again := watch.NewFake(), watch.NewFake()
	watches := 0
	u.client.PrependWatchReactor("applications", func(k8stesting.Action) (bool, watch.Interface, error) {
		watches++
		if watches == 1 {
			return true, expired, nil
		}
		return true, again, nil
	})
	_, sc := openEvents(t, u, "/events?view=list&namespace=&rv=3&page=2&sort=-name")
	go expired.Error(&metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired, Message: "too old resource version: 3"})
	line := nextData(t, sc)
	if !strings.Contains(line, `"id":"apps-body"`) {
		t.Fatalf("after the watch expired the stream sent %s, want the table again", line)
	}
	if n := strings.Count(line, `tr id=\"app/`); n != 50 {
		t.Errorf("the table sent again has %d rows, want page 2's 50", n)
	}
	if !strings.Contains(line, `app/shop/app-049`) || strings.Contains(line, `app/shop/app-050`) {
		t.Errorf("the table sent again is not page 2 of the order -name (app-049 .. app-000)")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestListReadsTheAPIInChunks: the list asks for the Applications in chunks, following the
// continue token with the same label selector, shows the rows of every chunk, and the live
// stream resumes from the snapshot's resourceVersion.
func TestListReadsTheAPIInChunks(t *testing.T) {
	u := startUI(t)
	var asked []metav1.ListOptions
	u.client.PrependReactor("list", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.ListActionImpl).ListOptions
		asked = append(asked, opts)
		list := &gitopsv1alpha1.ApplicationList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}}
		switch opts.Continue {
		case "":
			list.Items = []gitopsv1alpha1.Application{*labelled(testApp("blog", "web", gitopsv1alpha1.SyncStatusSynced), "team", "shop"),
				*labelled(testApp("shop", "db", gitopsv1alpha1.SyncStatusSynced), "team", "shop")}
			list.Continue = "more"
		case "more":
			list.Items = []gitopsv1alpha1.Application{*labelled(testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync), "team", "shop")}
		}
		return true, list, nil
	})
	cookie := u.login(t)
	_, body := u.do(t, http.MethodGet, "/?selector=team%3Dshop", withCookie(cookie))
	if got := rowOrder(body); got != "blog/web shop/db shop/web" {
		t.Errorf("rows %q, want those of both chunks:\n%s", got, body)
	}
	if len(asked) != 2 || asked[1].Continue != "more" {
		t.Fatalf("list calls %+v, want two, the second with the continue token", asked)
	}
	for _, o := range asked {
		if o.Limit != listChunk || o.LabelSelector != "team=shop" {
			t.Errorf("a list call asked limit %d with selector %q, want %d with team=shop", o.Limit, o.LabelSelector, listChunk)
		}
	}
	if !strings.Contains(body, "rv=42") {
		t.Errorf("the live stream does not resume from the snapshot's resourceVersion 42")
	}
}
