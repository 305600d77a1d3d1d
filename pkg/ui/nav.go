package ui

import (
	"context"
	"fmt"
	"html/template"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// sections are the top navigation: title and path.
var sections = [][2]string{{"Applications", "/"}, {"ApplicationSets", "/applicationsets"}, {"Clusters", "/clusters"}}

// navFuncs are the layout's: which section a page belongs to.
var navFuncs = template.FuncMap{
	"sections": func() [][2]string { return sections },
	"current":  navCurrent,
}

// navCurrent is the aria-current of the section's link on the page of data: "page" on the
// section's own list, "true" on a page inside it, "" elsewhere.
func navCurrent(data any, section string) string {
	var in string
	list := false
	switch data.(type) {
	case *setsPage:
		in, list = "ApplicationSets", true
	case *setPage:
		in = "ApplicationSets"
	case *clustersPage:
		in, list = "Clusters", true
	case *clusterPage:
		in = "Clusters"
	case *listPage:
		in, list = "Applications", true
	default:
		// Every other page is one of an Application's.
		in = "Applications"
	}
	switch {
	case in != section:
		return ""
	case list:
		return "page"
	}
	return "true"
}

// setPages are the pages of ApplicationSets and Clusters; setparts.html holds what they share.
var setPages = []string{"appsets", "appset", "clusters", "cluster"}

func parseSetPages(pages map[string]*template.Template) error {
	for _, p := range setPages {
		t, err := template.New(p).Funcs(funcs).Funcs(navFuncs).ParseFS(templateFS,
			"templates/layout.html", "templates/fragments.html", "templates/setparts.html", "templates/"+p+".html")
		if err != nil {
			return fmt.Errorf("parsing the UI's %s template: %w", p, err)
		}
		pages[p] = t
	}
	return nil
}

func (s *Server) setRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /applicationsets", s.handleSets)
	mux.HandleFunc("GET /applicationsets/{namespace}/{name}", s.handleSet)
	mux.HandleFunc("GET /clusters", s.handleClusters)
	mux.HandleFunc("GET /clusters/{name}", s.handleCluster)
}

// setStreams are the live streams of these pages, by the view= of /events.
func (s *Server) setStreams() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"appsets":  s.streamSets,
		"appset":   s.streamSet,
		"clusters": s.streamClusters,
		"cluster":  s.streamCluster,
	}
}

// inScope lists kind where the UI looks: its namespace (-n), else every namespace, else — when
// the person may not list everywhere — the kubeconfig context's namespace, with a notice that
// says why. It returns the namespace listed ("" for all).
func (s *Server) inScope(ctx context.Context, kind string, list func(ctx context.Context, ns string) error) (ns, notice string, err error) {
	ns = s.cfg.Namespace
	err = list(ctx, ns)
	if err != nil && apierrors.IsForbidden(err) && ns == "" && s.cfg.FallbackNamespace != "" {
		notice = "You may not list " + kind + " in every namespace (" + apiMessage(err) + "); showing namespace " +
			s.cfg.FallbackNamespace + ". Start the UI with -n NAMESPACE to choose another."
		ns = s.cfg.FallbackNamespace
		err = list(ctx, ns)
	}
	return ns, notice, err
}
