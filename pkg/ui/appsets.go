package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// setLabel is the label the ApplicationSet controller (pkg/controller/applicationset, SetLabel) puts
// on each Application it generates, beside a controller owner reference to the set. The UI
// selects by the label and keeps only the Applications the set controls, as the controller
// does; it does not import the controller, which would bring the whole engine into the plugin.
const setLabel = "gitops.ferry.dev/application-set"

// condView is a condition as the pages show it.
type condView struct {
	Type, Status, Reason, Message, Age string
}

func condViews(now time.Time, conds []metav1.Condition) []condView {
	out := make([]condView, 0, len(conds))
	for _, c := range conds {
		out = append(out, condView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message, Age: ago(now, &c.LastTransitionTime)})
	}
	return out
}

// readiness is the Ready condition's status (Unknown without one), reason and message.
func readiness(conds []metav1.Condition) (string, string, string) {
	c := meta.FindStatusCondition(conds, "Ready")
	if c == nil {
		return "Unknown", "", ""
	}
	return string(c.Status), c.Reason, c.Message
}

// appLine is one Application on a set's or a Cluster's page.
type appLine struct {
	ID, Namespace, Name, Cluster, Revision, Sync, Health string
}

func newAppLine(app *gitopsv1alpha1.Application) appLine {
	cluster := app.Spec.Destination.Cluster
	if cluster == "" {
		cluster = inClusterTitle
	}
	return appLine{ID: rowID(app.Namespace, app.Name), Namespace: app.Namespace, Name: app.Name, Cluster: cluster, Revision: app.Status.Sync.Revision,
		Sync: orUnknown(string(app.Status.Sync.Status)), Health: orUnknown(string(app.Status.Health.Status))}
}

func sortApps(items []gitopsv1alpha1.Application) {
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
}

// setRow is one ApplicationSet in the list.
type setRow struct {
	ID, Namespace, Name, Generators string
	Applications                    int
	Ready, Reason, Message          string
	Age, Created                    string
}

func setRowID(ns, name string) string { return "appset/" + ns + "/" + name }

func newSetRow(now time.Time, set *gitopsv1alpha1.ApplicationSet) setRow {
	var gens []string
	for _, g := range set.Spec.Generators {
		gens = append(gens, generatorSummary(g.List, g.Clusters, g.Git, g.Matrix))
	}
	r := setRow{ID: setRowID(set.Namespace, set.Name), Namespace: set.Namespace, Name: set.Name, Generators: strings.Join(gens, "; "),
		Applications: len(set.Status.Applications),
		Age:          duration.HumanDuration(now.Sub(set.CreationTimestamp.Time)), Created: set.CreationTimestamp.UTC().Format(time.RFC3339)}
	r.Ready, r.Reason, r.Message = readiness(set.Status.Conditions)
	if set.Status.ObservedGeneration < set.Generation && r.Ready != "False" {
		r.Ready, r.Reason, r.Message = "Unknown", "Generating", "generation "+fmt.Sprint(set.Generation)+" not generated from yet"
	}
	return r
}

// generatorSummary says in a few words what one generator makes Applications from.
func generatorSummary(list *gitopsv1alpha1.ListGenerator, clusters *gitopsv1alpha1.ClusterGenerator, git *gitopsv1alpha1.GitGenerator, matrix *gitopsv1alpha1.MatrixGenerator) string {
	switch {
	case list != nil:
		return fmt.Sprintf("list of %d elements", len(list.Elements))
	case clusters != nil:
		sel := metav1.FormatLabelSelector(&clusters.Selector)
		if sel == "" || sel == labels.Everything().String() {
			return "clusters: every Cluster"
		}
		return "clusters: " + sel
	case git != nil:
		rev := git.Revision
		if rev == "" {
			rev = "HEAD"
		}
		var what []string
		for _, d := range git.Directories {
			if d.Exclude {
				what = append(what, "not "+d.Path)
			} else {
				what = append(what, d.Path)
			}
		}
		kind := "directories"
		if len(git.Files) > 0 {
			kind, what = "files", nil
			for _, f := range git.Files {
				what = append(what, f.Path)
			}
		}
		return fmt.Sprintf("git %s at %s: %s %s", git.RepoURL, rev, kind, strings.Join(what, ", "))
	case matrix != nil:
		var parts []string
		for _, g := range matrix.Generators {
			parts = append(parts, generatorSummary(g.List, g.Clusters, g.Git, nil))
		}
		return "matrix of (" + strings.Join(parts, ") × (") + ")"
	}
	return "unknown generator"
}

// setsPage is the data of the ApplicationSets page.
type setsPage struct {
	Title, Context string
	Events         string
	Namespace      string // the namespace shown; empty for all
	Notice, Error  string
	Status         int
	Rows           []setRow
}

func (s *Server) handleSets(w http.ResponseWriter, r *http.Request) {
	p := &setsPage{Title: "ApplicationSets", Context: s.cfg.Context}
	var list *gitopsv1alpha1.ApplicationSetList
	ns, notice, err := s.inScope(r.Context(), "ApplicationSets", func(ctx context.Context, ns string) (err error) {
		list, err = s.cfg.Client.GitopsV1alpha1().ApplicationSets(ns).List(ctx, metav1.ListOptions{})
		return err
	})
	p.Namespace, p.Notice = ns, notice
	if err != nil {
		p.Error, p.Status = apiMessage(err), apiCode(err)
		s.render(w, p.Status, "appsets", p)
		return
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	now := s.cfg.Now()
	for i := range items {
		p.Rows = append(p.Rows, newSetRow(now, &items[i]))
	}
	p.Events = "/events?" + url.Values{"view": {"appsets"}, "namespace": {ns}, "rv": {list.ResourceVersion}}.Encode()
	s.render(w, http.StatusOK, "appsets", p)
}

// setView is the part of a set's page the live stream replaces when the set changes.
type setView struct {
	Namespace, Name string
	Row             setRow
	Generators      []string
	NameTemplate    string
	Sources         []sourceView
	Destination     string
	AppPolicy       string // the generated Applications' sync policy
	SetPolicy       string // what the set may do to them
	ServiceAccount  string
	GitRevision     string
	Conditions      []condView
	// Steps, RolloutReason and RolloutMessage describe a rolling sync; empty without one.
	Steps          []stepView
	RolloutReason  string
	RolloutMessage string
}

// stepView is one step of a rolling sync as the set's page shows it.
type stepView struct {
	Name, Selector, MaxUpdate, Phase, Ready, Message string
}

// rolloutView fills in the steps of a set's rolling sync, in the order of its spec, with where
// each stands (status.steps) and the RolledOut condition.
func (v *setView) rolloutView(set *gitopsv1alpha1.ApplicationSet) {
	if set.Spec.Strategy == nil || set.Spec.Strategy.RollingSync == nil {
		return
	}
	v.RolloutReason, v.RolloutMessage = "Unknown", "Not yet generated at this spec."
	if c := meta.FindStatusCondition(set.Status.Conditions, gitopsv1alpha1.ApplicationSetConditionRolledOut); c != nil {
		v.RolloutReason, v.RolloutMessage = c.Reason, c.Message
	}
	byName := map[string]gitopsv1alpha1.RolloutStepStatus{}
	for _, st := range set.Status.Steps {
		byName[st.Name] = st
	}
	step := func(name, selector, maxUpdate string) {
		st := byName[name]
		phase := string(st.Phase)
		if phase == "" {
			phase = "Unknown"
		}
		v.Steps = append(v.Steps, stepView{Name: name, Selector: selector, MaxUpdate: maxUpdate, Phase: phase,
			Ready: fmt.Sprintf("%d/%d", st.Ready, st.Applications), Message: st.Message})
	}
	for i, s := range set.Spec.Strategy.RollingSync.Steps {
		name := s.StepName(i)
		maxUpdate := "100%"
		if s.MaxUpdate != nil {
			maxUpdate = s.MaxUpdate.String()
		}
		sel := metav1.FormatLabelSelector(&s.Selector)
		if sel == "<none>" { // an empty selector selects every Application, as the controller reads it
			sel = "every Application"
		}
		step(name, sel, maxUpdate)
	}
	if _, ok := byName[gitopsv1alpha1.RolloutUnmatchedStep]; ok {
		step(gitopsv1alpha1.RolloutUnmatchedStep, "no step's selector", "100%")
	}
}

func newSetView(now time.Time, set *gitopsv1alpha1.ApplicationSet) *setView {
	v := &setView{Namespace: set.Namespace, Name: set.Name, Row: newSetRow(now, set), NameTemplate: set.Spec.Template.Metadata.Name,
		ServiceAccount: set.Spec.ServiceAccountName, GitRevision: gitopsv1alpha1.ShortRevision(set.Status.GitRevision),
		Conditions: condViews(now, set.Status.Conditions)}
	for _, g := range set.Spec.Generators {
		v.Generators = append(v.Generators, generatorSummary(g.List, g.Clusters, g.Git, g.Matrix))
	}
	spec := set.Spec.Template.Spec
	srcs := spec.Sources
	if len(srcs) == 0 {
		srcs = []gitopsv1alpha1.ApplicationSource{spec.Source}
	}
	for _, src := range srcs {
		v.Sources = append(v.Sources, sourceView{RepoURL: src.RepoURL, Path: src.Path, Chart: src.Chart, Revision: src.Revision})
	}
	dest := spec.Destination.Namespace
	if dest == "" {
		dest = "the Application's own (" + set.Namespace + ")"
	}
	cluster := spec.Destination.Cluster
	if cluster == "" {
		cluster = inClusterTitle
	}
	v.Destination = "namespace " + dest + " of cluster " + cluster
	v.AppPolicy = "manual"
	if a := spec.SyncPolicy.Automated; a != nil {
		v.AppPolicy = "automated"
		var opts []string
		if a.Prune {
			opts = append(opts, "prune")
		}
		if a.SelfHeal {
			opts = append(opts, "self-heal")
		}
		if len(opts) > 0 {
			v.AppPolicy += " (" + strings.Join(opts, ", ") + ")"
		}
	}
	switch set.Spec.SyncPolicy.ApplicationsSync {
	case gitopsv1alpha1.ApplicationsSyncCreateUpdate:
		v.SetPolicy = "create and update, never delete"
	case gitopsv1alpha1.ApplicationsSyncCreateOnly:
		v.SetPolicy = "create only, never change or delete"
	default:
		v.SetPolicy = "create, update and delete (sync)"
	}
	if set.Spec.SyncPolicy.PreserveResourcesOnDeletion {
		v.SetPolicy += "; a deleted Application keeps what it deployed"
	}
	v.rolloutView(set)
	return v
}

// setPage is the data of an ApplicationSet's page.
type setPage struct {
	Title, Context  string
	Events          string
	Namespace, Name string
	Error           string
	Status          int
	Set             *setView
	Apps            []appLine
	AppsError       string // the API's refusal to list the Applications
}

// generatedBy are the Applications of list that set controls.
func generatedBy(set *gitopsv1alpha1.ApplicationSet, items []gitopsv1alpha1.Application) []appLine {
	sortApps(items)
	out := []appLine{}
	for i := range items {
		if owns(set.UID, &items[i]) {
			out = append(out, newAppLine(&items[i]))
		}
	}
	return out
}

// owns says whether the set with uid generated app: it carries the controller owner reference
// the ApplicationSet controller sets (the label alone could be written by anyone).
func owns(uid types.UID, app *gitopsv1alpha1.Application) bool {
	ref := metav1.GetControllerOf(app)
	return ref != nil && ref.Kind == "ApplicationSet" && ref.UID == uid
}

func (s *Server) handleSet(w http.ResponseWriter, r *http.Request) {
	ns, name := r.PathValue("namespace"), r.PathValue("name")
	p := &setPage{Title: name, Context: s.cfg.Context, Namespace: ns, Name: name}
	set, err := s.cfg.Client.GitopsV1alpha1().ApplicationSets(ns).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		p.Error, p.Status = apiMessage(err), apiCode(err)
		s.render(w, p.Status, "appset", p)
		return
	}
	p.Set = newSetView(s.cfg.Now(), set)
	ev := url.Values{"view": {"appset"}, "namespace": {ns}, "name": {name}, "rv": {set.ResourceVersion}, "uid": {string(set.UID)}}
	apps, err := s.cfg.Client.GitopsV1alpha1().Applications(ns).List(r.Context(), metav1.ListOptions{LabelSelector: setLabel + "=" + name})
	if err != nil {
		// The set is shown; the Applications are not the person's to list.
		p.AppsError = apiMessage(err)
		ev.Set("apps", "no")
	} else {
		p.Apps = generatedBy(set, apps.Items)
		ev.Set("apprv", apps.ResourceVersion)
	}
	p.Events = "/events?" + ev.Encode()
	s.render(w, http.StatusOK, "appset", p)
}
