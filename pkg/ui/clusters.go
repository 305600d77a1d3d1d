package ui

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const (
	// inClusterTitle names the cluster Ferry runs in, which Applications target by naming no
	// Cluster; it has no Cluster object.
	inClusterTitle = "in-cluster"
	// inClusterKey is its place in the UI's paths and row ids: parentheses make it a name no
	// Cluster can have.
	inClusterKey = "(in-cluster)"
)

// clusterRow is one Cluster in the list, or the cluster Ferry runs in. A Cluster's credentials
// (its Secret, its caBundle) are never part of it.
type clusterRow struct {
	ID, Key, Name, Server, Version string
	Ready, Reason, Message         string
	Apps                           int
	AppsKnown                      bool // false when the person may not list Applications
	Age, Created                   string
	InCluster                      bool
}

func clusterRowID(key string) string { return "cluster/" + key }

func newClusterRow(now time.Time, c *gitopsv1alpha1.Cluster) clusterRow {
	r := clusterRow{ID: clusterRowID(c.Name), Key: c.Name, Name: c.Name, Server: c.Spec.Server, Version: c.Status.KubernetesVersion,
		Age: duration.HumanDuration(now.Sub(c.CreationTimestamp.Time)), Created: c.CreationTimestamp.UTC().Format(time.RFC3339)}
	r.Ready, r.Reason, r.Message = readiness(c.Status.Conditions)
	return r
}

func inClusterRow() clusterRow {
	return clusterRow{ID: clusterRowID(inClusterKey), Key: inClusterKey, Name: inClusterTitle, InCluster: true}
}

// targetOf is the cluster key an Application deploys into.
func targetOf(app *gitopsv1alpha1.Application) string {
	if app.Spec.Destination.Cluster == "" {
		return inClusterKey
	}
	return app.Spec.Destination.Cluster
}

// appScope is which Applications the Clusters pages count: the namespace listed, a notice when
// that is narrower than every namespace, or the API's refusal when none may be listed.
type appScope struct {
	Namespace string
	Notice    string
	Error     string
	Items     []gitopsv1alpha1.Application
	RV        string
}

func (s *Server) clusterApps(ctx context.Context) appScope {
	var list *gitopsv1alpha1.ApplicationList
	ns, notice, err := s.inScope(ctx, "Applications", func(ctx context.Context, ns string) (err error) {
		list, err = s.cfg.Client.GitopsV1alpha1().Applications(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	sc := appScope{Namespace: ns, Notice: notice}
	switch {
	case err != nil:
		sc.Error = "You may not list Applications (" + apiMessage(err) + "): how many target each cluster is not shown."
	case ns != "" && notice == "":
		sc.Notice = "Counting the Applications of namespace " + ns + " only (the UI was started with -n)."
	}
	if err == nil {
		sc.Items, sc.RV = list.Items, list.ResourceVersion
		if notice != "" {
			sc.Notice = notice + " Only its Applications are counted."
		}
	}
	return sc
}

// events adds the scope of the Applications to a live stream's query.
func (sc appScope) events(v url.Values) {
	if sc.Error != "" {
		v.Set("apps", "no")
		return
	}
	v.Set("appns", sc.Namespace)
}

// clustersPage is the data of the Clusters page.
type clustersPage struct {
	Title, Context string
	Events         string
	Error          string
	Status         int
	Apps           appScope
	Rows           []clusterRow
}

func countTargets(items []gitopsv1alpha1.Application) map[string]int {
	counts := map[string]int{}
	for i := range items {
		counts[targetOf(&items[i])]++
	}
	return counts
}

// clusterRows are the Cluster's rows, sorted by name, after the cluster Ferry runs in.
func clusterRows(now time.Time, clusters []gitopsv1alpha1.Cluster, counts map[string]int, known bool) []clusterRow {
	sort.Slice(clusters, func(i, j int) bool { return clusters[i].Name < clusters[j].Name })
	rows := []clusterRow{inClusterRow()}
	for i := range clusters {
		rows = append(rows, newClusterRow(now, &clusters[i]))
	}
	for i := range rows {
		rows[i].Apps, rows[i].AppsKnown = counts[rows[i].Key], known
	}
	return rows
}

func (s *Server) handleClusters(w http.ResponseWriter, r *http.Request) {
	p := &clustersPage{Title: "Clusters", Context: s.cfg.Context}
	list, err := s.cfg.Client.GitopsV1alpha1().Clusters().List(r.Context(), metav1.ListOptions{})
	if err != nil {
		p.Error, p.Status = apiMessage(err), apiCode(err)
		s.render(w, p.Status, "clusters", p)
		return
	}
	p.Apps = s.clusterApps(r.Context())
	p.Rows = clusterRows(s.cfg.Now(), list.Items, countTargets(p.Apps.Items), p.Apps.Error == "")
	// The stream lists both kinds again: the counts need every Application, which a watch
	// from the page's resourceVersion would not tell it.
	ev := url.Values{"view": {"clusters"}}
	p.Apps.events(ev)
	p.Events = "/events?" + ev.Encode()
	s.render(w, http.StatusOK, "clusters", p)
}

// clusterView is the part of a Cluster's page the live stream replaces when the Cluster changes.
type clusterView struct {
	Row           clusterRow
	TLSServerName string
	Labels        string
	LastProbe     string
	Conditions    []condView
}

func newClusterView(now time.Time, c *gitopsv1alpha1.Cluster) *clusterView {
	v := &clusterView{Row: newClusterRow(now, c), TLSServerName: c.Spec.TLSServerName, LastProbe: ago(now, c.Status.LastProbeTime),
		Conditions: condViews(now, c.Status.Conditions)}
	var ls []string
	for k, val := range c.Labels {
		ls = append(ls, k+"="+val)
	}
	sort.Strings(ls)
	v.Labels = strings.Join(ls, ", ")
	return v
}

// clusterPage is the data of a Cluster's page.
type clusterPage struct {
	Title, Context string
	Events         string
	Key            string
	Error          string
	Status         int
	Cluster        *clusterView
	Apps           appScope
	Lines          []appLine
}

// targeting are the Applications of items that deploy into the cluster key.
func targeting(key string, items []gitopsv1alpha1.Application) []appLine {
	sortApps(items)
	out := []appLine{}
	for i := range items {
		if targetOf(&items[i]) == key {
			out = append(out, newAppLine(&items[i]))
		}
	}
	return out
}

func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("name")
	p := &clusterPage{Title: key, Context: s.cfg.Context, Key: key}
	ev := url.Values{"view": {"cluster"}, "name": {key}}
	if key == inClusterKey {
		p.Title = inClusterTitle
		row := inClusterRow()
		p.Cluster = &clusterView{Row: row}
	} else {
		c, err := s.cfg.Client.GitopsV1alpha1().Clusters().Get(r.Context(), key, metav1.GetOptions{})
		if err != nil {
			p.Error, p.Status = apiMessage(err), apiCode(err)
			s.render(w, p.Status, "cluster", p)
			return
		}
		p.Cluster = newClusterView(s.cfg.Now(), c)
		ev.Set("rv", c.ResourceVersion)
	}
	p.Apps = s.clusterApps(r.Context())
	p.Lines = targeting(key, p.Apps.Items)
	p.Cluster.Row.Apps, p.Cluster.Row.AppsKnown = len(p.Lines), p.Apps.Error == ""
	p.Apps.events(ev)
	if p.Apps.RV != "" {
		ev.Set("apprv", p.Apps.RV)
	}
	p.Events = "/events?" + ev.Encode()
	s.render(w, http.StatusOK, "cluster", p)
}
