package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	OperationStart  string
	Conditions      []metav1.Condition
	Resources       []resourceView
	History         []historyView
	Suspended       bool
}

// resourceView is one object of the Application, with what the sync form needs to select it and,
// for a SharedResource, the Application that manages it.
type resourceView struct {
	gitopsv1alpha1.ResourceStatus
	// Key identifies the object in the sync form: group/kind/namespace/name.
	Key string
	// Owner is the namespace/name of the Application managing a SharedResource, when the
	// person may read the object; empty otherwise.
	Owner string
}

func resourceKey(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}

type sourceView struct {
	RepoURL, Path, Chart, Revision, Resolved string
}

type historyView struct {
	ID, Phase, Revision, By, When, Message string
	DryRun                                 bool
	// SyncTo is the full revision "sync to this revision" asks for: set for a successful,
	// real (not dry-run) sync that recorded what it applied.
	SyncTo string
}

// newAppView is the Application's page; owners maps a SharedResource's key to the Application
// that manages it (see Server.owners).
func newAppView(now time.Time, app *gitopsv1alpha1.Application, owners map[string]string) *appView {
	v := &appView{Name: app.Name, Namespace: app.Namespace, Row: newRow(now, app), HealthMessage: app.Status.Health.Message,
		Operation: app.Status.Operation, Conditions: app.Status.Conditions, Suspended: app.Spec.Suspend}
	for _, res := range app.Status.Resources {
		key := resourceKey(res.Group, res.Kind, res.Namespace, res.Name)
		v.Resources = append(v.Resources, resourceView{ResourceStatus: res, Key: key, Owner: owners[key]})
	}
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
		v.OperationStart = ago(now, op.StartedAt)
	}
	for _, h := range app.Status.History {
		rev := h.SyncedRevision
		if rev == "" {
			rev = h.Revision
		}
		hv := historyView{ID: h.ID, Phase: string(h.Phase), Revision: gitopsv1alpha1.ShortRevision(rev), By: h.RequestedBy,
			When: ago(now, h.FinishedAt), Message: h.Message, DryRun: h.DryRun}
		if h.Phase == gitopsv1alpha1.OperationSucceeded && !h.DryRun && h.SyncedRevision != "" {
			hv.SyncTo = h.SyncedRevision
		}
		v.History = append(v.History, hv)
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
	p.App = newAppView(s.cfg.Now(), app, s.owners(r.Context(), app))
	p.Events = "/events?" + url.Values{"view": {"app"}, "namespace": {ns}, "name": {name}, "rv": {app.ResourceVersion}}.Encode()
	s.render(w, http.StatusOK, "app", p)
}

// syncResult is the answer to a POST /sync, read by app.js.
type syncResult struct {
	Message   string `json:"message"`
	Operation string `json:"operation,omitempty"`
}

// syncForm is the body app.js posts: the sync form's choices. An empty body syncs as the
// Application says (the source's revision, its own prune setting, every object).
type syncForm struct {
	Revision  string                        `json:"revision"`
	Prune     bool                          `json:"prune"`
	DryRun    bool                          `json:"dryRun"`
	Resources []gitopsv1alpha1.SyncResource `json:"resources"`
}

// maxSyncForm bounds the body: a form with a few thousand selected objects fits.
const maxSyncForm = 1 << 20

func (s *Server) handleSync(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	w.Header().Set("Content-Type", "application/json")
	var form syncForm
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSyncForm))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&form); err != nil && !errors.Is(err, io.EOF) {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(syncResult{Message: "the sync form could not be read (" + err.Error() + "); reload the page and try again"})
			return
		}
	}
	req := &gitopsv1alpha1.ApplicationSync{
		TypeMeta:   metav1.TypeMeta{APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationSync"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: gitopsv1alpha1.ApplicationSyncSpec{Revision: strings.TrimSpace(form.Revision), Prune: form.Prune, DryRun: form.DryRun,
			Resources: form.Resources},
	}
	// The API validates the request and checks that the person may sync it: the UI passes the
	// form on as it is and shows the answer.
	resp, err := s.cfg.Client.GitopsV1alpha1().Applications(ns).Sync(r.Context(), name, req, metav1.CreateOptions{})
	if err != nil {
		// The API's refusal, with its code and its own words: nothing was changed.
		w.WriteHeader(apiCode(err))
		_ = json.NewEncoder(w).Encode(syncResult{Message: apiMessage(err)})
		return
	}
	what := "Sync"
	if req.Spec.DryRun {
		what = "Dry run"
	}
	if req.Spec.Revision != "" {
		what += " to " + gitopsv1alpha1.ShortRevision(req.Spec.Revision)
	}
	if n := len(req.Spec.Resources); n > 0 {
		what += fmt.Sprintf(" of %d selected object%s", n, plural(n))
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(syncResult{
		Message:   what + " requested: operation " + resp.Status.OperationID + " is " + string(orPending(resp.Status.Phase)) + "; its progress shows below.",
		Operation: resp.Status.OperationID,
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func orPending(p gitopsv1alpha1.OperationPhase) gitopsv1alpha1.OperationPhase {
	if p == "" {
		return gitopsv1alpha1.OperationPending
	}
	return p
}
