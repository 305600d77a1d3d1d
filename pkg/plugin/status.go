package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// maxStatusMessage bounds the messages of conditions and resources in status's view.
const maxStatusMessage = 100

func newStatusCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status APP [-o json|yaml]",
		Short: "Show an Application: source, sync, health, conditions, last operation and resources",
		Long: `Show one Application: its source (repository, path, and the revision resolved to a commit),
sync and health, conditions, the last sync operation, and a tree of the objects it manages by kind,
each with its sync status and health.

Health is read live from the cluster (GET applications/APP/health) when you may; otherwise it is
taken from the Application's status, and the view says so. -o json|yaml prints the Application.`,
		Example: `  kubectl ferry status guestbook
  kubectl ferry status guestbook -n team-a -o yaml`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.status(c.Context(), args[0], output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (o *Options) status(ctx context.Context, name, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	apps := client.GitopsV1alpha1().Applications(ns)
	app, err := apps.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return apiError(err, request{verb: "get", namespace: ns, name: name})
	}
	if output != "" {
		return printObject(o.Out, output, typed(app))
	}
	var live *gitopsv1alpha1.ApplicationHealth
	note := ""
	if len(app.Status.Resources) > 0 {
		live, err = apps.GetHealth(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			note = "health read live"
		case apierrors.IsForbidden(err):
			live = nil
			note = "health from status: you may not get applications/health (the ferry-view ClusterRole grants it)"
		default:
			if ctx.Err() != nil {
				return apiError(ctx.Err(), request{})
			}
			live = nil
			note = "health from status: live health unavailable: " + truncate(errMessage(err), maxStatusMessage)
		}
	}
	writeStatus(o.Out, o.Color, o.Now(), app, live, note)
	return nil
}

func errMessage(err error) string {
	if s, ok := err.(apierrors.APIStatus); ok && s.Status().Message != "" {
		return s.Status().Message
	}
	return err.Error()
}

// writeStatus prints status's view of app; live, when not nil, gives the objects' health, and
// note says where health comes from.
func writeStatus(w io.Writer, color bool, now time.Time, app *gitopsv1alpha1.Application, live *gitopsv1alpha1.ApplicationHealth, note string) {
	f := &kvList{}
	f.add("Name", app.Name)
	f.add("Namespace", app.Namespace)
	addSources(f, app)
	dest := app.Spec.Destination.Namespace
	if dest == "" {
		dest = app.Namespace
	}
	if cluster := app.Spec.Destination.Cluster; cluster != "" {
		f.add("Destination", "namespace "+dest+" of cluster "+cluster)
	} else {
		f.add("Destination", "namespace "+dest)
	}
	syncLine := paint(color, orUnknown(string(app.Status.Sync.Status)))
	if app.Status.Sync.Revision != "" {
		syncLine += " (applied " + shortSHA(app.Status.Sync.Revision) + ")"
	}
	f.add("Sync", syncLine)
	healthLine := paint(color, orUnknown(string(app.Status.Health.Status)))
	if m := app.Status.Health.Message; m != "" {
		healthLine += " (" + truncate(m, maxStatusMessage) + ")"
	}
	f.add("Health", healthLine)
	f.add("Sync policy", policy(app))
	if len(app.Spec.DependsOn) > 0 {
		var deps []string
		for _, d := range app.Spec.DependsOn {
			deps = append(deps, d.Key(app.Namespace))
		}
		f.add("Depends on", strings.Join(deps, ", "))
	}
	if app.Spec.ServiceAccountName != "" {
		f.add("Applies as", "ServiceAccount "+app.Spec.ServiceAccountName)
	}
	addWindowAndRefresh(f, now, app)
	f.write(w)

	fmt.Fprintln(w)
	if len(app.Status.Conditions) == 0 {
		fmt.Fprintln(w, "Conditions: none yet")
	} else {
		fmt.Fprintln(w, "Conditions:")
		t := &table{header: []string{"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"}, colored: map[int]bool{1: true}, indent: "  "}
		for _, c := range app.Status.Conditions {
			t.add(c.Type, string(c.Status), c.Reason, age(now, c.LastTransitionTime), truncate(c.Message, maxStatusMessage))
		}
		t.write(w, color)
	}

	fmt.Fprintln(w)
	writeOperation(w, color, now, app)

	fmt.Fprintln(w)
	writeResourceTree(w, color, app, live, note)
}

// addSources adds the source (or each of several sources) with what its revision resolved to.
func addSources(f *kvList, app *gitopsv1alpha1.Application) {
	if len(app.Spec.Sources) == 0 {
		src := app.Spec.Source
		f.add("Source", sourceRepo(&src))
		f.add("Path", orDash(src.Path))
		rev := orDash(src.Revision)
		if app.Status.SourceRevision != "" && app.Status.SourceRevision != src.Revision {
			rev += " → " + shortSHA(app.Status.SourceRevision)
		}
		f.add("Revision", rev)
	}
	// Several sources: one line each, with what its revision resolved to.
	for i, src := range app.Spec.Sources {
		line := sourceRepo(&src)
		switch {
		case src.Chart != "":
			line += " chart " + src.Chart
		case src.Path != "":
			line += " path " + src.Path
		}
		line += " at " + orDash(src.Revision)
		if i < len(app.Status.SourceRevisions) && app.Status.SourceRevisions[i] != src.Revision {
			line += " → " + shortSHA(app.Status.SourceRevisions[i])
		}
		if src.Ref != "" {
			line += " (ref " + src.Ref + ")"
		}
		f.add(fmt.Sprintf("Source %d", i), line)
	}
}

// addWindowAndRefresh adds the sync window in force, when Ferry last reconciled, and the last
// refresh.
func addWindowAndRefresh(f *kvList, now time.Time, app *gitopsv1alpha1.Application) {
	if c := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionSyncWindow); c != nil {
		// The window in force and when it ends, as the controller last judged it.
		line := "open"
		if c.Status == metav1.ConditionTrue {
			line = "blocked: " + truncate(c.Message, maxStatusMessage)
		}
		f.add("Sync window", line)
	}
	f.add("Reconciled", ago(now, app.Status.ReconciledAt))
	if r := app.Status.Refresh; r != nil {
		at := metav1.NewTime(r.RequestedAt.Time)
		line := "requested " + ago(now, &at)
		if r.RequestedBy != "" {
			line += " by " + r.RequestedBy
		}
		if _, pending := gitopsv1alpha1.PendingRefresh(app); pending {
			line += ", pending"
		} else {
			line += ", handled"
		}
		if r.Reason != "" {
			line += ": " + truncate(r.Reason, maxStatusMessage)
		}
		f.add("Refresh", line)
	}
}

func policy(app *gitopsv1alpha1.Application) string {
	p := app.Spec.SyncPolicy
	var s string
	if a := p.Automated; a != nil {
		var opts []string
		if a.Prune {
			opts = append(opts, "prune")
		}
		if a.SelfHeal {
			opts = append(opts, "self-heal")
		}
		s = "automated"
		if len(opts) > 0 {
			s += " (" + strings.Join(opts, ", ") + ")"
		}
	} else {
		s = fmt.Sprintf("manual (kubectl ferry sync %s -n %s)", app.Name, app.Namespace)
	}
	if p.Interval != nil {
		s += ", source checked every " + p.Interval.Duration.String()
	}
	if app.Spec.Suspend {
		s += "; SUSPENDED"
	}
	return s
}

func writeOperation(w io.Writer, color bool, now time.Time, app *gitopsv1alpha1.Application) {
	op := app.Status.Operation
	if op == nil {
		fmt.Fprintf(w, "Last operation: none (request one with kubectl ferry sync %s -n %s)\n", app.Name, app.Namespace)
		return
	}
	fmt.Fprintln(w, "Last operation:")
	f := &kvList{indent: "  "}
	f.add("ID", op.ID)
	f.add("Phase", paint(color, string(op.Phase)))
	rev := op.Revision
	if rev == "" && len(app.Spec.Sources) == 0 {
		rev = orDash(app.Spec.Source.Revision)
	}
	rev = orDash(rev)
	if op.SyncedRevision != "" && op.SyncedRevision != op.Revision {
		rev += " → " + shortSHA(op.SyncedRevision)
	}
	f.add("Revision", rev)
	var opts []string
	if op.Prune {
		opts = append(opts, "prune")
	}
	if op.DryRun {
		opts = append(opts, "dry run")
	}
	if n := len(op.Resources); n > 0 {
		opts = append(opts, fmt.Sprintf("limited to %d objects", n))
	}
	if len(opts) > 0 {
		f.add("Options", strings.Join(opts, ", "))
	}
	by := op.RequestedBy.Username
	if len(op.RequestedBy.Groups) > 0 {
		by += " (" + strings.Join(op.RequestedBy.Groups, ", ") + ")"
	}
	f.add("Requested by", by)
	f.add("Requested", timestamp(now, &op.RequestedAt))
	f.add("Started", timestamp(now, op.StartedAt))
	finished := timestamp(now, op.FinishedAt)
	if op.FinishedAt != nil && op.StartedAt != nil {
		took := op.FinishedAt.Sub(op.StartedAt.Time).Round(time.Millisecond).String()
		if took == "0s" {
			took = "under 1s" // the times have a resolution of one second
		}
		finished = fmt.Sprintf("%s (%s, took %s)", op.FinishedAt.Format(time.RFC3339), ago(now, op.FinishedAt), took)
	}
	f.add("Finished", finished)
	f.add("Message", orDash(op.Message))
	f.write(w)
	writeSteps(w, color, op.Steps)
}

// writeSteps prints the sync waves and hooks of an operation, in the order they run.
func writeSteps(w io.Writer, color bool, steps []gitopsv1alpha1.OperationStep) {
	if len(steps) == 0 {
		return
	}
	fmt.Fprintln(w, "  Steps:")
	t := &table{header: []string{"STEP", "PHASE", "OBJECTS", "MESSAGE"}, colored: map[int]bool{1: true}, indent: "    "}
	for _, s := range steps {
		step, objects := fmt.Sprintf("wave %d", s.Wave), fmt.Sprint(s.Objects)
		if s.Type == gitopsv1alpha1.OperationStepHook {
			step, objects = fmt.Sprintf("%s hook %s/%s (wave %d)", s.Hook, s.Kind, s.Name, s.Wave), "-"
		}
		t.add(step, string(s.Phase), objects, truncate(orDash(s.Message), maxStatusMessage))
	}
	t.write(w, color)
}

// resourceKey identifies a managed object.
func resourceKey(group, kind, namespace, name string) string {
	return group + "/" + kind + "/" + namespace + "/" + name
}

// kindLabel is Kind, or Kind.group outside the core group, as kubectl names resources.
func kindLabel(group, kind string) string {
	if group == "" {
		return kind
	}
	return kind + "." + group
}

func writeResourceTree(w io.Writer, color bool, app *gitopsv1alpha1.Application, live *gitopsv1alpha1.ApplicationHealth, note string) {
	res := app.Status.Resources
	if len(res) == 0 {
		fmt.Fprintln(w, "Resources: none")
		return
	}
	fmt.Fprintf(w, "Resources (%d; %s):\n", len(res), note)
	liveHealth := map[string]gitopsv1alpha1.ResourceHealth{}
	if live != nil {
		for _, h := range live.Resources {
			liveHealth[resourceKey(h.Group, h.Kind, h.Namespace, h.Name)] = h
		}
	}
	byKind := map[string][]gitopsv1alpha1.ResourceStatus{}
	var kinds []string
	for _, r := range res {
		k := kindLabel(r.Group, r.Kind)
		if _, ok := byKind[k]; !ok {
			kinds = append(kinds, k)
		}
		byKind[k] = append(byKind[k], r)
	}
	sort.Strings(kinds)
	t := &table{colored: map[int]bool{1: true, 2: true}, indent: "  "}
	for _, k := range kinds {
		items := byKind[k]
		sort.Slice(items, func(i, j int) bool {
			if items[i].Namespace != items[j].Namespace {
				return items[i].Namespace < items[j].Namespace
			}
			return items[i].Name < items[j].Name
		})
		t.section(k)
		for i, r := range items {
			branch := "├─ "
			if i == len(items)-1 {
				branch = "└─ "
			}
			ref := r.Name
			if r.Namespace != "" {
				ref = r.Namespace + "/" + r.Name
			}
			health, msg := string(r.Health), ""
			if live != nil {
				if h, ok := liveHealth[resourceKey(r.Group, r.Kind, r.Namespace, r.Name)]; ok {
					health, msg = string(h.Status), h.Message
				}
			}
			if health == string(gitopsv1alpha1.HealthHealthy) {
				msg = "" // "Resource is current" says nothing more; kubectl ferry health has it
			}
			t.add(branch+ref, orUnknown(string(r.Status)), orUnknown(health), truncate(msg, maxStatusMessage))
		}
	}
	t.write(w, color)
}

// sourceRepo is a source's repository, and the Secret its credentials come from.
func sourceRepo(src *gitopsv1alpha1.ApplicationSource) string {
	repo := src.RepoURL
	if src.CredentialsRef != nil {
		repo += " (credentials from Secret " + src.CredentialsRef.Name + ")"
	}
	return repo
}
