package ui

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

var rowIDs = regexp.MustCompile(`<tr id="app/([^"]+)"`)

func rowOrder(body string) string {
	var ids []string
	for _, m := range rowIDs.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return strings.Join(ids, " ")
}

// TestListSortsByAnyColumnOnTheServer: ?sort=KEY and ?sort=-KEY order the rows stably (equal
// keys keep namespace/name order) and the sorted header says so with aria-sort.
func TestListSortsByAnyColumnOnTheServer(t *testing.T) {
	web, db, blog := testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync), testApp("shop", "db", gitopsv1alpha1.SyncStatusSynced),
		testApp("blog", "web", gitopsv1alpha1.SyncStatusSynced)
	blog.CreationTimestamp.Time = time.Now().Add(-time.Minute)
	db.Spec.Destination.Cluster = "edge"
	u := startUI(t, web, db, blog)
	cookie := u.login(t)
	for query, want := range map[string]string{
		"/":                               "blog/web shop/db shop/web",
		"/?sort=name":                     "shop/db blog/web shop/web",
		"/?sort=-name":                    "blog/web shop/web shop/db",
		"/?sort=sync":                     "shop/web blog/web shop/db",
		"/?sort=-sync":                    "blog/web shop/db shop/web",
		"/?sort=age":                      "blog/web shop/db shop/web",
		"/?sort=-cluster":                 "blog/web shop/web shop/db",
		"/?sort=nonsense":                 "blog/web shop/db shop/web",
		"/?sort=-name&cluster=in-cluster": "blog/web shop/web",
		"/?sort=name&ns=shop":             "shop/db shop/web",
	} {
		_, body := u.do(t, http.MethodGet, query, withCookie(cookie))
		if got := rowOrder(body); got != want {
			t.Errorf("GET %s: rows %q, want %q", query, got, want)
		}
	}
	_, body := u.do(t, http.MethodGet, "/?sort=-name&sync=Synced", withCookie(cookie))
	for _, want := range []string{
		`<th scope="col" aria-sort="descending"><a class="sort" href="/?sort=name&amp;sync=Synced">Name`,
		`<th scope="col"><a class="sort" href="/?sort=namespace&amp;sync=Synced">Namespace</a></th>`,
		`<input type="hidden" name="sort" value="-name">`,
		`<option>edge</option><option>in-cluster</option>`, `<select name="ns"><option value="">any</option><option>blog</option><option>shop</option>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /?sort=-name&sync=Synced lacks %q:\n%s", want, body)
		}
	}
	if n := strings.Count(body, "aria-sort="); n != 1 {
		t.Errorf("%d headers carry aria-sort, want only the sorted one", n)
	}
}
