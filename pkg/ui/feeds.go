package ui

import (
	"context"
	"fmt"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
)

// A feed follows one kind for a live page: a watch as the person, from the resourceVersion the
// page was rendered at (or from a list of its own when it has none), with bookmarks so a resumed
// watch starts close to now, and a new list when the watch cannot resume (410 Gone). The pages
// of ApplicationSets and Clusters follow two kinds at once (a set and its Applications, Clusters
// and the Applications that target them), so several feeds run side by side and one loop owns
// the page's state and writes its stream.
type feed struct {
	// list lists what the page shows and returns its items and resourceVersion.
	list func(ctx context.Context) ([]runtime.Object, string, error)
	// watch watches from opts.ResourceVersion.
	watch func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	// rv is where the page was rendered; empty makes the feed list first.
	rv string
}

// feedNews is what a feed tells the page's loop: a whole list (reset), one change, or the
// API's refusal that ends the stream.
type feedNews struct {
	feed  int
	reset bool
	items []runtime.Object
	event watch.Event
	err   error
}

// liveView is a page that feeds keep live: it turns lists and changes into messages.
type liveView interface {
	feeds() []feed
	// reset is the feed's whole list, at its start without a resourceVersion or after a 410.
	reset(feed int, items []runtime.Object) ([]sent, error)
	// change is one Added, Modified or Deleted event of the feed.
	change(feed int, ev watch.Event) ([]sent, error)
}

// sent is one Server-Sent Event: its type (replace, remove) and message.
type sent struct {
	event string
	msg   message
}

// serveLive streams v to the page until the page goes or a feed is refused; a refusal is sent
// as a problem with the API's own message.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, v liveView) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	st := &stream{w: w, f: flusher}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return
	}
	flusher.Flush()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	news := make(chan feedNews)
	for i, f := range v.feeds() {
		go runFeed(ctx, i, f, news)
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		var out []sent
		var err error
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			flusher.Flush()
			continue
		case n := <-news:
			switch {
			case n.err != nil:
				err = n.err
			case n.reset:
				out, err = v.reset(n.feed, n.items)
			default:
				out, err = v.change(n.feed, n.event)
			}
		}
		if err != nil {
			klog.V(2).InfoS("UI event stream ends", "path", r.URL.Path, "view", r.URL.Query().Get("view"), "err", err)
			_ = st.send("problem", message{ID: "problem", Text: apiMessage(err)})
			return
		}
		for _, o := range out {
			if err := st.send(o.event, o.msg); err != nil {
				return
			}
		}
	}
}

// runFeed lists and watches for f until ctx ends or the API refuses, telling the page's loop.
func runFeed(ctx context.Context, id int, f feed, news chan<- feedNews) {
	tell := func(n feedNews) bool {
		n.feed = id
		select {
		case news <- n:
			return true
		case <-ctx.Done():
			return false
		}
	}
	rv := f.rv
	for ctx.Err() == nil {
		if rv == "" {
			items, listRV, err := f.list(ctx)
			if err != nil {
				tell(feedNews{err: err})
				return
			}
			if !tell(feedNews{reset: true, items: items}) {
				return
			}
			rv = listRV
		}
		w, err := f.watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
		if err != nil {
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				rv = ""
				continue
			}
			tell(feedNews{err: err})
			return
		}
		events, next, expired, err := follow(ctx, w, func(ev watch.Event) bool { return tell(feedNews{event: ev}) })
		w.Stop()
		switch {
		case err != nil:
			tell(feedNews{err: err})
			return
		case expired:
			rv = ""
			continue
		case next != "":
			rv = next
		}
		if events == 0 {
			// A watch that ended at once with nothing: wait a little, so a failing one does not spin.
			select {
			case <-ctx.Done():
			case <-time.After(rewatchDelay):
			}
		}
	}
}

// follow reads one watch until it ends; it returns how many events it read, the last
// resourceVersion it saw (empty when none), and whether the watch expired so that a new list is
// needed.
func follow(ctx context.Context, w watch.Interface, tell func(watch.Event) bool) (int, string, bool, error) {
	events, rv := 0, ""
	for {
		select {
		case <-ctx.Done():
			return events, rv, false, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return events, rv, false, nil
			}
			events++
			if ev.Type == watch.Error {
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return events, "", true, nil
				}
				return events, rv, false, err
			}
			if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
				rv = m.GetResourceVersion()
			}
			if ev.Type != watch.Bookmark && !tell(ev) {
				return events, rv, false, nil
			}
		}
	}
}
