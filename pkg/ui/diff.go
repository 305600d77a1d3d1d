package ui

import (
	"net/http"
	"strings"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// diffView is what a sync would change, as the diff subresource answered it.
type diffView struct {
	Revision string
	Summary  gitopsv1alpha1.DiffSummary
	Items    []diffItem
}

type diffItem struct {
	Kind, Namespace, Name, Action string
	Lines                         []diffLine
}

// diffLine is one line of a unified diff with the CSS class that colours it.
type diffLine struct {
	Class, Text string
}

// diffLines splits a unified diff into classed lines: the file headers, hunk headers, removals
// (live) and additions (desired). Secret values arrive masked by the API and are shown as they
// came.
func diffLines(diff string) []diffLine {
	diff = strings.TrimSuffix(diff, "\n")
	if diff == "" {
		return nil
	}
	var out []diffLine
	for _, l := range strings.Split(diff, "\n") {
		class := "ctx"
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			class = "file"
		case strings.HasPrefix(l, "@@"):
			class = "hunk"
		case strings.HasPrefix(l, "+"):
			class = "add"
		case strings.HasPrefix(l, "-"):
			class = "del"
		}
		out = append(out, diffLine{Class: class, Text: l})
	}
	return out
}

func newDiffView(d *gitopsv1alpha1.ApplicationDiff) *diffView {
	v := &diffView{Revision: d.Revision, Summary: d.Summary}
	for _, it := range d.Items {
		kind := it.Kind
		if it.Group != "" {
			kind += "." + it.Group
		}
		v.Items = append(v.Items, diffItem{Kind: kind, Namespace: it.Namespace, Name: it.Name, Action: string(it.Action), Lines: diffLines(it.Diff)})
	}
	return v
}

// handleDiff shows GET applications/{name}/diff as the person using the UI.
func (s *Server) handleDiff(w http.ResponseWriter, r *http.Request) {
	p := s.newSubPage(r, "Diff")
	d, err := s.cfg.Client.GitopsV1alpha1().Applications(p.Namespace).Diff(r.Context(), p.Name, gitopsv1alpha1.ApplicationDiffOptions{})
	if err != nil {
		p.refused(err)
	} else {
		p.View = newDiffView(d)
	}
	s.renderSub(w, "diff", p)
}
