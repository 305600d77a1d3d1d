package ui

import (
	"context"
	"net/http"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// subStreams are the live streams of an Application's Tree and Events pages, by ?view.
func (s *Server) subStreams() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{"tree": s.streamTree, "appevents": s.streamAppEvents}
}

// liveTree keeps an Application's Tree page live: it follows the Application (its objects and
// their sync and health) and the ReplicaSets, Jobs and Pods of its namespaces, and sends the
// tree again whenever what it shows changes. Kinds the person may not list are not followed:
// the tree keeps saying so where they would be.
type liveTree struct {
	s       *Server
	ctx     context.Context
	app     *gitopsv1alpha1.Application
	watched []string                        // the resource/namespace keys followed, by feed-1
	objects map[string]map[types.UID]object // what each key holds now
	denied  map[string]error                // the keys the person may not list
	last    string                          // the tree last sent
}

func (s *Server) streamTree(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ns, name := q.Get("namespace"), q.Get("name")
	app, err := s.cfg.Client.GitopsV1alpha1().Applications(ns).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		s.serveLive(w, r, refusedView{err})
		return
	}
	// The page's own listing says which kinds the person may list, and where.
	l := &lister{kube: s.cfg.Kube, lists: map[string][]object{}, errs: map[string]error{}}
	s.treeFrom(r.Context(), app, l)
	v := &liveTree{s: s, ctx: r.Context(), app: app, objects: map[string]map[types.UID]object{}, denied: l.errs}
	for key := range l.lists {
		v.watched = append(v.watched, key)
	}
	s.serveLive(w, r, v)
}

func (v *liveTree) feeds() []feed {
	apps := v.s.cfg.Client.GitopsV1alpha1().Applications(v.app.Namespace)
	byName := fields.OneTermEqualSelector("metadata.name", v.app.Name).String()
	out := []feed{{
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			list, err := apps.List(ctx, metav1.ListOptions{FieldSelector: byName})
			if err != nil {
				return nil, "", err
			}
			var items []runtime.Object
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
			return items, list.ResourceVersion, nil
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = byName
			return apps.Watch(ctx, opts)
		},
		rv: v.app.ResourceVersion,
	}}
	for _, key := range v.watched {
		out = append(out, v.s.ownedFeed(key))
	}
	return out
}

// ownedFeed follows the ReplicaSets, Jobs or Pods of one namespace (key resource/namespace).
func (s *Server) ownedFeed(key string) feed {
	resource, ns, _ := strings.Cut(key, "/")
	kube := s.cfg.Kube
	list := func(ctx context.Context) ([]runtime.Object, string, error) {
		var items []runtime.Object
		var rv string
		switch resource {
		case "replicasets":
			l, err := kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			for i := range l.Items {
				items = append(items, &l.Items[i])
			}
			rv = l.ResourceVersion
		case "jobs":
			l, err := kube.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			for i := range l.Items {
				items = append(items, &l.Items[i])
			}
			rv = l.ResourceVersion
		default:
			l, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			for i := range l.Items {
				items = append(items, &l.Items[i])
			}
			rv = l.ResourceVersion
		}
		return items, rv, nil
	}
	watchFn := func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		switch resource {
		case "replicasets":
			return kube.AppsV1().ReplicaSets(ns).Watch(ctx, opts)
		case "jobs":
			return kube.BatchV1().Jobs(ns).Watch(ctx, opts)
		}
		return kube.CoreV1().Pods(ns).Watch(ctx, opts)
	}
	return feed{list: list, watch: watchFn}
}

func (v *liveTree) reset(feed int, items []runtime.Object) ([]sent, error) {
	if feed == 0 {
		for _, it := range items {
			if app, ok := it.(*gitopsv1alpha1.Application); ok {
				v.app = app
			}
		}
		return v.render()
	}
	objs := map[types.UID]object{}
	for _, it := range items {
		if o, ok := toObject(it); ok {
			objs[o.UID] = o
		}
	}
	v.objects[v.watched[feed-1]] = objs
	return v.render()
}

func (v *liveTree) change(feed int, ev watch.Event) ([]sent, error) {
	if feed == 0 {
		app, ok := ev.Object.(*gitopsv1alpha1.Application)
		if !ok {
			return nil, nil
		}
		if ev.Type == watch.Deleted {
			return []sent{{event: "problem", msg: message{ID: "problem", Text: "the Application " + app.Namespace + "/" + app.Name + " was deleted"}}}, nil
		}
		v.app = app
		return v.render()
	}
	o, ok := toObject(ev.Object)
	if !ok {
		return nil, nil
	}
	key := v.watched[feed-1]
	if v.objects[key] == nil {
		v.objects[key] = map[types.UID]object{}
	}
	if ev.Type == watch.Deleted {
		delete(v.objects[key], o.UID)
	} else {
		v.objects[key][o.UID] = o
	}
	return v.render()
}

// render sends the tree when it differs from what the page shows.
func (v *liveTree) render() ([]sent, error) {
	l := &lister{lists: map[string][]object{}, errs: v.denied}
	for key, objs := range v.objects {
		for _, o := range objs {
			l.lists[key] = append(l.lists[key], o)
		}
		objs := l.lists[key]
		sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	}
	tree := v.s.treeFrom(v.ctx, v.app, l)
	tree.nameOwners(v.s.owners(v.ctx, v.app))
	html, err := v.s.fragment("tree", "treelive", tree)
	if err != nil || html == v.last {
		return nil, err
	}
	v.last = html
	return []sent{{event: "replace", msg: message{ID: "tree-live", HTML: html}}}, nil
}

// liveEvents keeps an Application's Events page live from a watch of its Events.
type liveEvents struct {
	s               *Server
	namespace, name string
	events          map[types.UID]corev1.Event
	last            string
}

func (s *Server) streamAppEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.serveLive(w, r, &liveEvents{s: s, namespace: q.Get("namespace"), name: q.Get("name"), events: map[types.UID]corev1.Event{}})
}

func (v *liveEvents) feeds() []feed {
	events := v.s.cfg.Kube.CoreV1().Events(v.namespace)
	sel := appEventsSelector(v.name, v.namespace)
	return []feed{{
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			list, err := events.List(ctx, metav1.ListOptions{FieldSelector: sel})
			if err != nil {
				return nil, "", err
			}
			var items []runtime.Object
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
			return items, list.ResourceVersion, nil
		},
		watch: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = sel
			return events.Watch(ctx, opts)
		},
		// No resourceVersion: the stream lists the Events again, so the table it keeps holds
		// those the page shows as well as newer ones.
	}}
}

func (v *liveEvents) reset(_ int, items []runtime.Object) ([]sent, error) {
	v.events = map[types.UID]corev1.Event{}
	for _, it := range items {
		if e, ok := it.(*corev1.Event); ok {
			v.events[e.UID] = *e
		}
	}
	return v.render()
}

func (v *liveEvents) change(_ int, ev watch.Event) ([]sent, error) {
	e, ok := ev.Object.(*corev1.Event)
	if !ok {
		return nil, nil
	}
	if ev.Type == watch.Deleted {
		delete(v.events, e.UID)
	} else {
		v.events[e.UID] = *e
	}
	return v.render()
}

func (v *liveEvents) render() ([]sent, error) {
	items := make([]corev1.Event, 0, len(v.events))
	for _, e := range v.events {
		items = append(items, e)
	}
	// Events of the same second keep one order, so an unchanged table is not sent again.
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	html, err := v.s.fragment("events", "eventslive", eventRows(v.s.cfg.Now(), items, v.namespace, v.name))
	if err != nil || html == v.last {
		return nil, err
	}
	v.last = html
	return []sent{{event: "replace", msg: message{ID: "events-live", HTML: html}}}, nil
}

// refusedView is a stream that only says the API refused what the page needs.
type refusedView struct{ err error }

func (v refusedView) feeds() []feed {
	return []feed{{
		list:  func(context.Context) ([]runtime.Object, string, error) { return nil, "", v.err },
		watch: func(context.Context, metav1.ListOptions) (watch.Interface, error) { return nil, v.err },
	}}
}
func (refusedView) reset(int, []runtime.Object) ([]sent, error) { return nil, nil }
func (refusedView) change(int, watch.Event) ([]sent, error)     { return nil, nil }
