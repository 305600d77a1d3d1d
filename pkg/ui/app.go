package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// appPage is the data of an Application's page.
type appPage struct {
	Title, Context string
	Events         string
	Error          string
	App            *appView
}

// appView is the part of an Application's page the live stream replaces.
type appView struct {
	Name, Namespace string
	Sources         []sourceView
	Destination     string
	Policy          string
	Row             row
	HealthMessage   string
	Operation       *gitopsv1alpha1.Operation
	OperationWhen   string
	Conditions      []metav1.Condition
	Resources       []gitopsv1alpha1.ResourceStatus
	History         []historyView
	Suspended       bool
}

type sourceView struct {
	RepoURL, Path, Chart, Revision, Resolved string
}

type historyView struct {
	ID, Phase, Revision, By, When, Message string
	DryRun                                 bool
}

func newAppView(now time.Time, app *gitopsv1alpha1.Application) *appView {
	v := &appView{Name: app.Name, Namespace: app.Namespace, Row: newRow(now, app), HealthMessage: app.Status.Health.Message,
		Operation: app.Status.Operation, Conditions: app.Status.Conditions, Resources: app.Status.Resources, Suspended: app.Spec.Suspend}
	if len(app.Spec.Sources) == 0 {
		src := app.Spec.Source
		v.Sources = []sourceView{{RepoURL: src.RepoURL, Path: src.Path, Chart: src.Chart, Revision: src.Revision, Resolved: gitopsv1alpha1.ShortRevision(app.Status.SourceRevision)}}
	}
	for i, src := range app.Spec.Sources {
		sv := sourceView{RepoURL: src.RepoURL, Path: src.Path, Chart: src.Chart, Revision: src.Revision}
		if i < len(app.Status.SourceRevisions) {
			sv.Resolved = gitopsv1alpha1.ShortRevision(app.Status.SourceRevisions[i])
		}
		v.Sources = append(v.Sources, sv)
	}
	dest := app.Spec.Destination.Namespace
	if dest == "" {
		dest = app.Namespace
	}
	v.Destination = "namespace " + dest + " of cluster " + v.Row.Cluster
	if a := app.Spec.SyncPolicy.Automated; a != nil {
		var opts []string
		if a.Prune {
			opts = append(opts, "prune")
		}
		if a.SelfHeal {
			opts = append(opts, "self-heal")
		}
		v.Policy = "automated"
		if len(opts) > 0 {
			v.Policy += " (" + strings.Join(opts, ", ") + ")"
		}
	} else {
		v.Policy = "manual"
	}
	if iv := app.Spec.SyncPolicy.Interval; iv != nil {
		v.Policy += ", source checked every " + iv.Duration.String()
	}
	if op := app.Status.Operation; op != nil {
		when := op.FinishedAt
		if when == nil {
			when = &op.RequestedAt
		}
		v.OperationWhen = ago(now, when)
	}
	for _, h := range app.Status.History {
		rev := h.SyncedRevision
		if rev == "" {
			rev = h.Revision
		}
		v.History = append(v.History, historyView{ID: h.ID, Phase: string(h.Phase), Revision: gitopsv1alpha1.ShortRevision(rev), By: h.RequestedBy,
			When: ago(now, h.FinishedAt), Message: h.Message, DryRun: h.DryRun})
	}
	return v
}

func (s *Server) handleApp(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	p := &appPage{Title: name, Context: s.cfg.Context}
	app, err := s.cfg.Client.GitopsV1alpha1().Applications(ns).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		p.Error = apiMessage(err)
		s.render(w, apiCode(err), "app", p)
		return
	}
	p.App = newAppView(s.cfg.Now(), app)
	p.Events = "/events?" + url.Values{"view": {"app"}, "namespace": {ns}, "name": {name}, "rv": {app.ResourceVersion}}.Encode()
	s.render(w, http.StatusOK, "app", p)
}

// syncResult is the answer to a POST /sync, read by app.js.
type syncResult struct {
	Message   string `json:"message"`
	Operation string `json:"operation,omitempty"`
}

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	req := &gitopsv1alpha1.ApplicationSync{
		TypeMeta:   metav1.TypeMeta{APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationSync"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
	}
	resp, err := s.cfg.Client.GitopsV1alpha1().Applications(ns).Sync(r.Context(), name, req, metav1.CreateOptions{})
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		// The API's refusal, with its code and its own words: nothing was changed.
		w.WriteHeader(apiCode(err))
		_ = json.NewEncoder(w).Encode(syncResult{Message: apiMessage(err)})
		return
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(syncResult{
		Message:   "Sync requested: operation " + resp.Status.OperationID + " is " + string(orPending(resp.Status.Phase)) + ".",
		Operation: resp.Status.OperationID,
	})
}

func orPending(p gitopsv1alpha1.OperationPhase) gitopsv1alpha1.OperationPhase {
	if p == "" {
		return gitopsv1alpha1.OperationPending
	}
	return p
}
