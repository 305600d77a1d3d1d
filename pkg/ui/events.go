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
	view, ns, name, rv := q.Get("view"), q.Get("namespace"), q.Get("name"), q.Get("rv")
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
	f, o := filterFrom(q), orderFrom(q)
	opts := metav1.ListOptions{AllowWatchBookmarks: true}
	if view == "list" {
		// The API filters by labels, in the list after a 410 and in the watch alike.
		sel, err := f.labelSelector()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		opts.LabelSelector = sel
	}
	// Only the last page, when not full, takes new rows; any other page shows changes to its
	// own rows only, so an update never grows it past one page.
	appendTo := ""
	if q.Get("append") == "1" {
		appendTo = "apps-body"
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, f: flusher}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	flusher.Flush()
	if view == "app" {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	apps := s.cfg.Client.GitopsV1alpha1().Applications(ns)
	ctx := r.Context()
	last := map[string]string{} // what was last announced of each row
	update := func(app *gitopsv1alpha1.Application) error {
		if view == "app" && app.Name != name {
			return nil // the field selector already says so; a page shows one Application only
		}
		now := s.cfg.Now()
		rw := newRow(now, app)
		state := rw.Sync + ", " + rw.Health
		if app.Status.Operation != nil {
			state += ", operation " + string(app.Status.Operation.Phase)
		}
		announce := ""
		if prev, ok := last[rw.ID]; ok && prev != state {
			announce = app.Namespace + "/" + app.Name + ": " + state
		}
		last[rw.ID] = state
		if view == "app" {
			html, err := s.fragment("app", "live", newAppView(now, app, s.owners(ctx, app)))
			if err != nil {
				return err
			}
			return st.send("replace", message{ID: "app-live", HTML: html, Announce: announce})
		}
		if !f.match(rw) {
			return st.send("remove", message{ID: rw.ID})
		}
		html, err := s.fragment("list", "row", rw)
		if err != nil {
			return err
		}
		return st.send("replace", message{ID: rw.ID, HTML: html, Parent: appendTo, Announce: announce})
	}
	relist := func() (string, error) {
		if view == "list" {
			// The same page as the list rendered, in the same order.
			set := newRowSet(s.cfg.Now(), f)
			if err := set.list(ctx, apps, metav1.ListOptions{LabelSelector: opts.LabelSelector}); err != nil {
				return "", err
			}
			rows, _ := paginate(set.sorted(o), pageFrom(q), nil)
			html, err := s.fragment("list", "rows", rows)
			if err != nil {
				return "", err
			}
			return set.resourceVersion, st.send("replace", message{ID: "apps-body", HTML: html})
		}
		list, err := apps.List(ctx, metav1.ListOptions{FieldSelector: opts.FieldSelector})
		if err != nil {
			return "", err
		}
		for i := range list.Items {
			if err := update(&list.Items[i]); err != nil {
				return "", err
			}
		}
		return list.ResourceVersion, nil
	}
	problem := func(err error) {
		klog.V(2).InfoS("UI event stream ends", "namespace", ns, "err", err)
		_ = st.send("problem", message{ID: "problem", Text: apiMessage(err)})
	}
	for ctx.Err() == nil {
		if rv == "" {
			var err error
			if rv, err = relist(); err != nil {
				if ctx.Err() == nil {
					problem(err)
				}
				return
			}
		}
		opts.ResourceVersion = rv
		watcher, err := apps.Watch(ctx, opts)
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
				continue
			}
			if ctx.Err() == nil {
				problem(err)
			}
			return
		}
		events, next, err := s.consume(ctx, st, watcher, update)
		watcher.Stop()
		if err != nil {
			if ctx.Err() == nil {
				problem(err)
			}
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
