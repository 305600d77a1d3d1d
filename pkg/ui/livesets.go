package ui

import (
	"context"
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// The live streams of the ApplicationSets and Clusters pages. Each sends the fragments the page
// rendered, re-rendered on the server, for app.js to swap in by id.

func objects[T any, PT interface {
	*T
	runtime.Object
}](items []T) []runtime.Object {
	out := make([]runtime.Object, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}

func setsFeed(s *Server, ns string, sel fields.Selector, rv string) feed {
	sets := s.cfg.Client.GitopsV1alpha1().ApplicationSets(ns)
	opts := metav1.ListOptions{}
	if sel != nil {
		opts.FieldSelector = sel.String()
	}
	return feed{rv: rv,
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := sets.List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return objects(l.Items), l.ResourceVersion, nil
		},
		watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = opts.FieldSelector
			return sets.Watch(ctx, o)
		},
	}
}

func appsFeed(s *Server, ns, labelSelector, rv string) feed {
	apps := s.cfg.Client.GitopsV1alpha1().Applications(ns)
	return feed{rv: rv,
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := apps.List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
			if err != nil {
				return nil, "", err
			}
			return objects(l.Items), l.ResourceVersion, nil
		},
		watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = labelSelector
			return apps.Watch(ctx, o)
		},
	}
}

func clustersFeed(s *Server, sel fields.Selector, rv string) feed {
	clusters := s.cfg.Client.GitopsV1alpha1().Clusters()
	opts := metav1.ListOptions{}
	if sel != nil {
		opts.FieldSelector = sel.String()
	}
	return feed{rv: rv,
		list: func(ctx context.Context) ([]runtime.Object, string, error) {
			l, err := clusters.List(ctx, opts)
			if err != nil {
				return nil, "", err
			}
			return objects(l.Items), l.ResourceVersion, nil
		},
		watch: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = opts.FieldSelector
			return clusters.Watch(ctx, o)
		},
	}
}

func replaceWith(s *Server, page, name string, data any, id, parent, announce string) ([]sent, error) {
	html, err := s.fragment(page, name, data)
	if err != nil {
		return nil, err
	}
	return []sent{{event: "replace", msg: message{ID: id, HTML: html, Parent: parent, Announce: announce}}}, nil
}

func removal(id, announce string) []sent {
	return []sent{{event: "remove", msg: message{ID: id, Announce: announce}}}
}

// lineAnnouncer says an Application's sync and health when they change, for the live region.
type lineAnnouncer map[string]string

func (a lineAnnouncer) announce(l appLine) string {
	state := l.Sync + ", " + l.Health
	prev, seen := a[l.ID]
	a[l.ID] = state
	if seen && prev != state {
		return l.Namespace + "/" + l.Name + ": " + state
	}
	return ""
}

// setsLive keeps the ApplicationSets list live.
type setsLive struct {
	s      *Server
	ns, rv string
}

func (s *Server) streamSets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.serveLive(w, r, &setsLive{s: s, ns: q.Get("namespace"), rv: q.Get("rv")})
}

func (v *setsLive) feeds() []feed { return []feed{setsFeed(v.s, v.ns, nil, v.rv)} }

func (v *setsLive) reset(_ int, items []runtime.Object) ([]sent, error) {
	now := v.s.cfg.Now()
	rows := []setRow{}
	for _, o := range items {
		if set, ok := o.(*gitopsv1alpha1.ApplicationSet); ok {
			rows = append(rows, newSetRow(now, set))
		}
	}
	return replaceWith(v.s, "appsets", "setrows", rows, "sets-body", "", "")
}

func (v *setsLive) change(_ int, ev watch.Event) ([]sent, error) {
	set, ok := ev.Object.(*gitopsv1alpha1.ApplicationSet)
	if !ok {
		return nil, nil
	}
	id := setRowID(set.Namespace, set.Name)
	if ev.Type == watch.Deleted {
		return removal(id, set.Namespace+"/"+set.Name+" was deleted"), nil
	}
	return replaceWith(v.s, "appsets", "setrow", newSetRow(v.s.cfg.Now(), set), id, "sets-body", "")
}

// setLive keeps a set's page live: the set itself, and the Applications it generated.
type setLive struct {
	s         *Server
	ns, name  string
	uid       types.UID
	rv, appRV string
	apps      bool
	said      lineAnnouncer
}

func (s *Server) streamSet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("name") == "" || q.Get("namespace") == "" {
		http.Error(w, "bad request: view=appset needs a namespace and a name", http.StatusBadRequest)
		return
	}
	s.serveLive(w, r, &setLive{s: s, ns: q.Get("namespace"), name: q.Get("name"), uid: types.UID(q.Get("uid")),
		rv: q.Get("rv"), appRV: q.Get("apprv"), apps: q.Get("apps") != "no", said: lineAnnouncer{}})
}

func (v *setLive) feeds() []feed {
	fs := []feed{setsFeed(v.s, v.ns, fields.OneTermEqualSelector("metadata.name", v.name), v.rv)}
	if v.apps {
		fs = append(fs, appsFeed(v.s, v.ns, setLabel+"="+v.name, v.appRV))
	}
	return fs
}

func (v *setLive) setChanged(set *gitopsv1alpha1.ApplicationSet) ([]sent, error) {
	v.uid = set.UID
	return replaceWith(v.s, "appset", "setlive", newSetView(v.s.cfg.Now(), set), "set-live", "", "")
}

func (v *setLive) reset(feed int, items []runtime.Object) ([]sent, error) {
	if feed == 0 {
		for _, o := range items {
			// The field selector chose it; checked again so a page shows its own set only.
			if set, ok := o.(*gitopsv1alpha1.ApplicationSet); ok && set.Name == v.name {
				return v.setChanged(set)
			}
		}
		return removal("set-live", v.ns+"/"+v.name+" was deleted"), nil
	}
	set := &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{UID: v.uid}}
	var apps []gitopsv1alpha1.Application
	for _, o := range items {
		if a, ok := o.(*gitopsv1alpha1.Application); ok {
			apps = append(apps, *a)
		}
	}
	lines := generatedBy(set, apps)
	for _, l := range lines {
		v.said.announce(l)
	}
	return replaceWith(v.s, "appset", "setapps", lines, "set-apps-body", "", "")
}

func (v *setLive) change(feed int, ev watch.Event) ([]sent, error) {
	if feed == 0 {
		set, ok := ev.Object.(*gitopsv1alpha1.ApplicationSet)
		if !ok || set.Name != v.name {
			return nil, nil
		}
		if ev.Type == watch.Deleted {
			return removal("set-live", v.ns+"/"+v.name+" was deleted"), nil
		}
		return v.setChanged(set)
	}
	app, ok := ev.Object.(*gitopsv1alpha1.Application)
	if !ok {
		return nil, nil
	}
	id := rowID(app.Namespace, app.Name)
	if ev.Type == watch.Deleted || !owns(v.uid, app) {
		return removal(id, ""), nil
	}
	l := newAppLine(app)
	return replaceWith(v.s, "appset", "appline", l, id, "set-apps-body", v.said.announce(l))
}

// clustersLive keeps the Clusters list live: each Cluster, and how many Applications target it.
type clustersLive struct {
	s        *Server
	appNS    string
	apps     bool
	clusters map[string]*gitopsv1alpha1.Cluster
	target   map[string]string // Application namespace/name → cluster key
	counts   map[string]int
	listed   [2]bool
}

func (s *Server) streamClusters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := &clustersLive{s: s, appNS: q.Get("appns"), apps: q.Get("apps") != "no",
		clusters: map[string]*gitopsv1alpha1.Cluster{}, target: map[string]string{}, counts: map[string]int{}}
	v.listed[1] = !v.apps
	s.serveLive(w, r, v)
}

func (v *clustersLive) feeds() []feed {
	fs := []feed{clustersFeed(v.s, nil, "")}
	if v.apps {
		fs = append(fs, appsFeed(v.s, v.appNS, "", ""))
	}
	return fs
}

func (v *clustersLive) body() ([]sent, error) {
	if !v.listed[0] || !v.listed[1] {
		return nil, nil // the first lists of both kinds make the first table
	}
	var cs []gitopsv1alpha1.Cluster
	for _, c := range v.clusters {
		cs = append(cs, *c)
	}
	return replaceWith(v.s, "clusters", "clusterrows", clusterRows(v.s.cfg.Now(), cs, v.counts, v.apps), "clusters-body", "", "")
}

// row re-renders the row of the cluster key, if the list has one.
func (v *clustersLive) row(key string) ([]sent, error) {
	if !v.listed[0] || !v.listed[1] {
		return nil, nil
	}
	var r clusterRow
	if key == inClusterKey {
		r = inClusterRow()
	} else if c, ok := v.clusters[key]; ok {
		r = newClusterRow(v.s.cfg.Now(), c)
	} else {
		return nil, nil // an Application naming a Cluster that is not registered
	}
	r.Apps, r.AppsKnown = v.counts[key], v.apps
	return replaceWith(v.s, "clusters", "clusterrow", r, r.ID, "clusters-body", "")
}

func (v *clustersLive) reset(feed int, items []runtime.Object) ([]sent, error) {
	if feed == 0 {
		v.clusters = map[string]*gitopsv1alpha1.Cluster{}
		for _, o := range items {
			if c, ok := o.(*gitopsv1alpha1.Cluster); ok {
				v.clusters[c.Name] = c
			}
		}
	} else {
		v.target, v.counts = map[string]string{}, map[string]int{}
		for _, o := range items {
			if a, ok := o.(*gitopsv1alpha1.Application); ok {
				key := targetOf(a)
				v.target[a.Namespace+"/"+a.Name] = key
				v.counts[key]++
			}
		}
	}
	v.listed[feed] = true
	return v.body()
}

func (v *clustersLive) change(feed int, ev watch.Event) ([]sent, error) {
	if feed == 0 {
		c, ok := ev.Object.(*gitopsv1alpha1.Cluster)
		if !ok {
			return nil, nil
		}
		if ev.Type == watch.Deleted {
			delete(v.clusters, c.Name)
			return removal(clusterRowID(c.Name), "Cluster "+c.Name+" was deleted"), nil
		}
		v.clusters[c.Name] = c
		return v.row(c.Name)
	}
	a, ok := ev.Object.(*gitopsv1alpha1.Application)
	if !ok {
		return nil, nil
	}
	key := a.Namespace + "/" + a.Name
	old, had := v.target[key]
	now := ""
	if ev.Type != watch.Deleted {
		now = targetOf(a)
	}
	if had && old == now {
		return nil, nil
	}
	if had {
		v.counts[old]--
		delete(v.target, key)
	}
	if now != "" {
		v.target[key] = now
		v.counts[now]++
	}
	var out []sent
	for _, k := range []string{old, now} {
		if k == "" {
			continue
		}
		s, err := v.row(k)
		if err != nil {
			return nil, err
		}
		out = append(out, s...)
	}
	return out, nil
}

// clusterLive keeps a Cluster's page live: the Cluster, and the Applications that target it.
type clusterLive struct {
	s                    *Server
	key                  string
	rv, appNS, appRV     string
	apps                 bool
	appFeed, clusterFeed int
	said                 lineAnnouncer
}

func (s *Server) streamCluster(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("name") == "" {
		http.Error(w, "bad request: view=cluster needs a name", http.StatusBadRequest)
		return
	}
	s.serveLive(w, r, &clusterLive{s: s, key: q.Get("name"), rv: q.Get("rv"), appNS: q.Get("appns"), appRV: q.Get("apprv"),
		apps: q.Get("apps") != "no", said: lineAnnouncer{}})
}

func (v *clusterLive) feeds() []feed {
	var fs []feed
	v.appFeed, v.clusterFeed = -1, -1
	if v.apps {
		v.appFeed = len(fs)
		fs = append(fs, appsFeed(v.s, v.appNS, "", v.appRV))
	}
	if v.key != inClusterKey { // the cluster Ferry runs in has no Cluster object
		v.clusterFeed = len(fs)
		fs = append(fs, clustersFeed(v.s, fields.OneTermEqualSelector("metadata.name", v.key), v.rv))
	}
	return fs
}

func (v *clusterLive) reset(feed int, items []runtime.Object) ([]sent, error) {
	if feed == v.clusterFeed {
		for _, o := range items {
			if c, ok := o.(*gitopsv1alpha1.Cluster); ok && c.Name == v.key {
				return replaceWith(v.s, "cluster", "clusterlive", newClusterView(v.s.cfg.Now(), c), "cluster-live", "", "")
			}
		}
		return removal("cluster-live", "Cluster "+v.key+" was deleted"), nil
	}
	var apps []gitopsv1alpha1.Application
	for _, o := range items {
		if a, ok := o.(*gitopsv1alpha1.Application); ok {
			apps = append(apps, *a)
		}
	}
	lines := targeting(v.key, apps)
	for _, l := range lines {
		v.said.announce(l)
	}
	return replaceWith(v.s, "cluster", "clusterapps", lines, "cluster-apps-body", "", "")
}

func (v *clusterLive) change(feed int, ev watch.Event) ([]sent, error) {
	if feed == v.clusterFeed {
		c, ok := ev.Object.(*gitopsv1alpha1.Cluster)
		if !ok || c.Name != v.key {
			return nil, nil
		}
		if ev.Type == watch.Deleted {
			return removal("cluster-live", "Cluster "+v.key+" was deleted"), nil
		}
		return replaceWith(v.s, "cluster", "clusterlive", newClusterView(v.s.cfg.Now(), c), "cluster-live", "", "")
	}
	a, ok := ev.Object.(*gitopsv1alpha1.Application)
	if !ok {
		return nil, nil
	}
	id := rowID(a.Namespace, a.Name)
	if ev.Type == watch.Deleted || targetOf(a) != v.key {
		return removal(id, ""), nil
	}
	l := newAppLine(a)
	return replaceWith(v.s, "cluster", "appline", l, id, "cluster-apps-body", v.said.announce(l))
}
