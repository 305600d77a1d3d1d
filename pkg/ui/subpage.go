package ui

import "net/http"

// subPage is the data of the pages beside an Application's overview (Diff, Manifests, Events,
// Tree): which Application, which tab, and either the view or the API's refusal.
type subPage struct {
	Title, Context  string
	Events          string // unused: these pages are not live
	Namespace, Name string
	Tab             string
	Error           string
	Status          int // the API's code when it refused
	View            any
}

func (s *Server) newSubPage(r *http.Request, tab string) *subPage {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	return &subPage{Title: tab + " · " + name, Context: s.cfg.Context, Namespace: ns, Name: name, Tab: tab}
}

// refused records the API's refusal of err: the page says it with the API's words and answers
// with the API's code.
func (p *subPage) refused(err error) {
	p.Error, p.Status = apiMessage(err), apiCode(err)
}

func (s *Server) renderSub(w http.ResponseWriter, page string, p *subPage) {
	status := http.StatusOK
	if p.Error != "" {
		status = p.Status
	}
	s.render(w, status, page, p)
}
