package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	gitopsclient "github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/typed/gitops/v1alpha1"
)

const (
	// keepAlive is how often an idle stream sends a comment, so a dead browser is noticed.
	keepAlive = 20 * time.Second
	// rewatchDelay spaces out watches that end at once, so a failing watch does not spin.
	rewatchDelay = time.Second
)

// message is one Server-Sent Event for app.js: replace (or append to Parent) the element with
// ID by HTML, or remove it; Announce goes to the page's ARIA live region.
type message struct {
	ID       string `json:"id"`
	HTML     string `json:"html,omitempty"`
	Parent   string `json:"parent,omitempty"`
	Announce string `json:"announce,omitempty"`
	// Text is the message of a problem event, shown as text.
	Text string `json:"text,omitempty"`
}

// stream writes Server-Sent Events to one page.
type stream struct {
	w http.ResponseWriter
	f http.Flusher
}

func (s *stream) send(event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	s.f.Flush()
	return nil
}

// handleEvents streams the changes of the Applications a page shows: a watch, as the person, from
// the resourceVersion the page was rendered at, with bookmarks so that a resumed watch starts
// close to now. Each change is sent as the server-rendered fragment that replaces the old one;
// when the watch cannot resume (410 Gone) the whole table is listed and sent again.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	q := r.URL.Query()
	view, ns, name := q.Get("view"), q.Get("namespace"), q.Get("name")
	if stream, ok := s.setStreams()[view]; ok { // the ApplicationSets and Clusters pages
		stream(w, r)
		return
	}
	if stream, ok := s.subStreams()[view]; ok && name != "" && s.cfg.Kube != nil { // an Application's Tree and Events
		stream(w, r)
		return
	}
	if view != "list" && (view != "app" || name == "") {
		http.Error(w, "bad request: view=list, or view=app with a name", http.StatusBadRequest)
		return
	}
	as := &appsStream{s: s, view: view, name: name, f: filterFrom(q), o: orderFrom(q), page: pageFrom(q),
		apps: s.cfg.Client.GitopsV1alpha1().Applications(ns), opts: metav1.ListOptions{AllowWatchBookmarks: true}, last: map[string]string{}}
	if view == "list" {
		// The API filters by labels, in the list after a 410 and in the watch alike.
		sel, err := as.f.labelSelector()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		as.opts.LabelSelector = sel
	} else {
		as.opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	// Only the last page, when not full, takes new rows; any other page shows changes to its
	// own rows only, so an update never grows it past one page.
	if q.Get("append") == "1" {
		as.appendTo = "apps-body"
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	as.st = &stream{w: w, f: flusher}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	flusher.Flush()
	as.run(r.Context(), q.Get("rv"))
}

// appsStream is the live stream of the Applications list or of one Application's page.
type appsStream struct {
	s          *Server
	st         *stream
	view, name string // "list", or "app" and the Application's name
	f          filter
	o          order
	page       int
	appendTo   string // the parent new rows go to; empty: new rows are not this page's
	apps       gitopsclient.ApplicationInterface
	opts       metav1.ListOptions
	last       map[string]string // what was last announced of each row
}

// run lists (when rv is empty) and watches until the page goes, resuming from the last
// resourceVersion and listing again when the watch cannot resume.
func (as *appsStream) run(ctx context.Context, rv string) {
	problem := func(err error) {
		if ctx.Err() == nil {
			klog.V(2).InfoS("UI event stream ends", "view", as.view, "err", err)
			_ = as.st.send("problem", message{ID: "problem", Text: apiMessage(err)})
		}
	}
	for ctx.Err() == nil {
		if rv == "" {
			var err error
			if rv, err = as.relist(ctx); err != nil {
				problem(err)
				return
			}
		}
		as.opts.ResourceVersion = rv
		watcher, err := as.apps.Watch(ctx, as.opts)
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
				continue
			}
			problem(err)
			return
		}
		events, next, err := as.s.consume(ctx, as.st, watcher, func(app *gitopsv1alpha1.Application) error { return as.update(ctx, app) })
		watcher.Stop()
		if err != nil {
			problem(err)
			return
		}
		rv = next(rv)
		if events == 0 && rv != "" {
			select {
			case <-ctx.Done():
			case <-time.After(rewatchDelay):
			}
		}
	}
}

// update sends app's changed row (list) or live section (app), announcing a new state.
func (as *appsStream) update(ctx context.Context, app *gitopsv1alpha1.Application) error {
	if as.view == "app" && app.Name != as.name {
		return nil // the field selector already says so; a page shows one Application only
	}
	now := as.s.cfg.Now()
	rw := newRow(now, app)
	state := rw.Sync + ", " + rw.Health
	if app.Status.Operation != nil {
		state += ", operation " + string(app.Status.Operation.Phase)
	}
	announce := ""
	if prev, ok := as.last[rw.ID]; ok && prev != state {
		announce = app.Namespace + "/" + app.Name + ": " + state
	}
	as.last[rw.ID] = state
	if as.view == "app" {
		html, err := as.s.fragment("app", "live", newAppView(now, app, as.s.owners(ctx, app)))
		if err != nil {
			return err
		}
		return as.st.send("replace", message{ID: "app-live", HTML: html, Announce: announce})
	}
	if !as.f.match(rw) {
		return as.st.send("remove", message{ID: rw.ID})
	}
	html, err := as.s.fragment("list", "row", rw)
	if err != nil {
		return err
	}
	return as.st.send("replace", message{ID: rw.ID, HTML: html, Parent: as.appendTo, Announce: announce})
}

// relist sends the whole page again (the list's page in its order, or the Application's live
// section) and returns the resourceVersion to watch from.
func (as *appsStream) relist(ctx context.Context) (string, error) {
	if as.view == "list" {
		set := newRowSet(as.s.cfg.Now(), as.f)
		if err := set.list(ctx, as.apps, metav1.ListOptions{LabelSelector: as.opts.LabelSelector}); err != nil {
			return "", err
		}
		rows, _ := paginate(set.sorted(as.o), as.page, nil)
		html, err := as.s.fragment("list", "rows", rows)
		if err != nil {
			return "", err
		}
		return set.resourceVersion, as.st.send("replace", message{ID: "apps-body", HTML: html})
	}
	list, err := as.apps.List(ctx, metav1.ListOptions{FieldSelector: as.opts.FieldSelector})
	if err != nil {
		return "", err
	}
	for i := range list.Items {
		if err := as.update(ctx, &list.Items[i]); err != nil {
			return "", err
		}
	}
	return list.ResourceVersion, nil
}

// consume reads one watch until it ends; it returns how many events it read and how to update
// the resourceVersion to resume from ("" when the watch expired and a new list is needed).
func (s *Server) consume(ctx context.Context, st *stream, watcher watch.Interface, update func(*gitopsv1alpha1.Application) error) (int, func(string) string, error) {
	events := 0
	rv, expired := "", false
	next := func(old string) string {
		switch {
		case expired:
			return ""
		case rv != "":
			return rv
		}
		return old
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return events, next, nil
		case <-tick.C:
			if _, err := fmt.Fprint(st.w, ": keep-alive\n\n"); err != nil {
				return events, next, nil
			}
			st.f.Flush()
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return events, next, nil
			}
			events++
			switch ev.Type {
			case watch.Added, watch.Modified:
				app, ok := ev.Object.(*gitopsv1alpha1.Application)
				if !ok {
					continue
				}
				rv = app.ResourceVersion
				if err := update(app); err != nil {
					return events, next, err
				}
			case watch.Deleted:
				if app, ok := ev.Object.(*gitopsv1alpha1.Application); ok {
					rv = app.ResourceVersion
					if err := st.send("remove", message{ID: rowID(app.Namespace, app.Name),
						Announce: app.Namespace + "/" + app.Name + " was deleted"}); err != nil {
						return events, next, err
					}
				}
			case watch.Bookmark:
				if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
					rv = m.GetResourceVersion()
				}
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					expired = true
					return events, next, nil
				}
				return events, next, err
			}
		}
	}
}
