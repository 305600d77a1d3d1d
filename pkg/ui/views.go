package ui

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

var funcs = template.FuncMap{
	"short":     gitopsv1alpha1.ShortRevision,
	"thousands": thousands,
	"tabs":      func() [][2]string { return appTabs },
	"overview":  func(ns, name string) *subPage { return &subPage{Namespace: ns, Name: name, Tab: "Overview"} },
}

// appTabs are the pages of an Application: title and path below /applications/NS/NAME.
var appTabs = [][2]string{{"Overview", ""}, {"Diff", "/diff"}, {"Manifests", "/manifests"}, {"Events", "/events"}, {"Tree", "/tree"}, {"Logs", "/logs"}}

func orUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

func ago(now time.Time, t *metav1.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return duration.HumanDuration(now.Sub(t.Time)) + " ago"
}

// apiMessage is the API's own message for err.
func apiMessage(err error) string {
	var st apierrors.APIStatus
	if errors.As(err, &st) && st.Status().Message != "" {
		return st.Status().Message
	}
	return err.Error()
}

// apiCode is the HTTP status the API answered err with, or 502 when err did not come from it.
func apiCode(err error) int {
	var st apierrors.APIStatus
	if errors.As(err, &st) && st.Status().Code != 0 {
		return int(st.Status().Code)
	}
	return http.StatusBadGateway
}

// filter is the list's query: a text to find in name, namespace or cluster, and exact
// namespace, cluster, sync and health; Selector is a label selector the API itself applies to
// the list and the watch. The same query selects the rows the live stream sends.
type filter struct {
	Text, Namespace, Cluster, Sync, Health, Selector string
}

func filterFrom(q url.Values) filter {
	return filter{Text: strings.TrimSpace(q.Get("q")), Namespace: q.Get("ns"), Cluster: q.Get("cluster"), Sync: q.Get("sync"), Health: q.Get("health"),
		Selector: strings.TrimSpace(q.Get("selector"))}
}

func (f filter) values() url.Values {
	v := url.Values{}
	if f.Text != "" {
		v.Set("q", f.Text)
	}
	if f.Namespace != "" {
		v.Set("ns", f.Namespace)
	}
	if f.Cluster != "" {
		v.Set("cluster", f.Cluster)
	}
	if f.Sync != "" {
		v.Set("sync", f.Sync)
	}
	if f.Health != "" {
		v.Set("health", f.Health)
	}
	if f.Selector != "" {
		v.Set("selector", f.Selector)
	}
	return v
}

func (f filter) match(r row) bool {
	if f.Namespace != "" && r.Namespace != f.Namespace {
		return false
	}
	if f.Cluster != "" && r.Cluster != f.Cluster {
		return false
	}
	if f.Sync != "" && r.Sync != f.Sync {
		return false
	}
	if f.Health != "" && r.Health != f.Health {
		return false
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		return strings.Contains(strings.ToLower(r.Name), t) || strings.Contains(strings.ToLower(r.Namespace), t) ||
			strings.Contains(strings.ToLower(r.Cluster), t)
	}
	return true
}

// row is one Application in the list.
type row struct {
	ID, Name, Namespace, Cluster string
	Revision, Sync, Health       string
	LastOperation, Age, Created  string
}

func rowID(namespace, name string) string { return "app/" + namespace + "/" + name }

func newRow(now time.Time, app *gitopsv1alpha1.Application) row {
	cluster := app.Spec.Destination.Cluster
	if cluster == "" {
		cluster = "in-cluster"
	}
	r := row{
		ID: rowID(app.Namespace, app.Name), Name: app.Name, Namespace: app.Namespace, Cluster: cluster,
		Revision: app.Status.Sync.Revision,
		Sync:     orUnknown(string(app.Status.Sync.Status)), Health: orUnknown(string(app.Status.Health.Status)),
		Age: duration.HumanDuration(now.Sub(app.CreationTimestamp.Time)), Created: app.CreationTimestamp.UTC().Format(time.RFC3339),
	}
	if op := app.Status.Operation; op != nil {
		when := op.FinishedAt
		if when == nil {
			when = &op.RequestedAt
		}
		r.LastOperation = strings.TrimSpace(string(op.Phase) + " " + ago(now, when))
	}
	return r
}

// listPage is the data of the Applications page.
type listPage struct {
	Title, Context string
	Events         string // the live stream's URL
	Namespace      string // the namespace shown; empty for all
	Notice         string // why the scope is narrower than asked
	Error          string // the API's refusal
	FilterError    string // a filter the UI refused before asking the API, naming the field
	Filter         filter
	Headers        []sortHeader
	Order          string   // the ?sort the page was asked with, kept when filtering
	Namespaces     []string // the namespaces and clusters of the Applications, to filter by
	Clusters       []string
	SyncStates     []string
	HealthStates   []string
	Rows           []row // the rows of this page only
	Pager          pager
	Total          int // every Application listed, before the filter
}

// Filtered says whether any filter narrows the list, for the Clear link.
func (p *listPage) Filtered() bool { return len(p.Filter.values()) > 0 }

// choices are the sorted keys of seen, with the chosen one even when no Application has it.
func choices(seen map[string]bool, chosen string) []string {
	if chosen != "" {
		seen[chosen] = true
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	syncStates   = []string{"Synced", "OutOfSync", "Unknown"}
	healthStates = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
)

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, o := filterFrom(q), orderFrom(q)
	p := &listPage{Title: "Applications", Context: s.cfg.Context, Filter: f, Headers: sortHeaders(f, o), Order: o.String(), SyncStates: syncStates, HealthStates: healthStates, Namespace: s.cfg.Namespace}
	selector, err := f.labelSelector()
	if err != nil {
		// Refused here, before any request: the API would only say "unable to parse requirement".
		p.FilterError = err.Error()
		p.Namespaces, p.Clusters = choices(map[string]bool{}, f.Namespace), choices(map[string]bool{}, f.Cluster)
		s.render(w, http.StatusBadRequest, "list", p)
		return
	}
	opts := metav1.ListOptions{LabelSelector: selector}
	set := newRowSet(s.cfg.Now(), f)
	err = set.list(r.Context(), s.cfg.Client.GitopsV1alpha1().Applications(p.Namespace), opts)
	if err != nil && apierrors.IsForbidden(err) && p.Namespace == "" && s.cfg.FallbackNamespace != "" {
		// Not allowed everywhere: show the namespace of the kubeconfig context instead.
		p.Notice = "You may not list Applications in every namespace (" + apiMessage(err) + "); showing namespace " + s.cfg.FallbackNamespace + ". Start the UI with -n NAMESPACE to choose another."
		p.Namespace = s.cfg.FallbackNamespace
		set = newRowSet(s.cfg.Now(), f)
		err = set.list(r.Context(), s.cfg.Client.GitopsV1alpha1().Applications(p.Namespace), opts)
	}
	status := http.StatusOK
	if err != nil {
		p.Error, status = apiMessage(err), apiCode(err)
	} else {
		p.Total = set.total
		rows, namespaces, clusters := set.sorted(o), set.namespaces, set.clusters
		// Only one page is rendered: the HTML and the DOM stay the same size at 10,000 rows.
		query := f.values()
		if o.Key != "" {
			query.Set("sort", o.String())
		}
		p.Rows, p.Pager = paginate(rows, pageFrom(q), query)
		p.Namespaces, p.Clusters = choices(namespaces, f.Namespace), choices(clusters, f.Cluster)
		// The stream starts where the list ends, so no change between the two is lost; it
		// knows the page, to send the same rows again after a new list.
		ev := query
		ev.Set("view", "list")
		ev.Set("namespace", p.Namespace)
		ev.Set("rv", set.resourceVersion)
		if p.Pager.Page > 1 {
			ev.Set("page", strconv.Itoa(p.Pager.Page))
		}
		if p.Pager.Open {
			ev.Set("append", "1")
		}
		p.Events = "/events?" + ev.Encode()
	}
	s.render(w, status, "list", p)
}

// render writes page with status, or a plain error when the template fails.
func (s *Server) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		klog.ErrorS(err, "rendering a UI page", "page", page)
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fragment renders one named template to a string, for the live stream.
func (s *Server) fragment(page, name string, data any) (string, error) {
	var buf bytes.Buffer
	if err := s.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}
