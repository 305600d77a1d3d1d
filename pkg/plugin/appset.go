package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func newAppSetCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "appset",
		Aliases: []string{"applicationset"},
		Short:   "List ApplicationSets, or show one with the Applications it generated",
		Args:    noArgs,
		Run:     func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
	}
	var all bool
	var output string
	list := &cobra.Command{
		Use:     "list [-A] [-o json|yaml]",
		Aliases: []string{"ls"},
		Short:   "List ApplicationSets: how many Applications each made, how many are Synced and Healthy",
		Example: `  kubectl ferry appset list -A`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.listAppSets(c.Context(), all, output)
		},
	}
	list.Flags().BoolVarP(&all, "all-namespaces", "A", false, "List the ApplicationSets of every namespace")
	addOutputFlag(list, &output)
	var statusOutput string
	status := &cobra.Command{
		Use:   "status SET [-o json|yaml]",
		Short: "Show an ApplicationSet: generators, sync policy, readiness and each generated Application",
		Long: `Show one ApplicationSet: the ServiceAccount its Applications act as, its generators, its sync
policy, the Ready condition (why an Application was not generated: a template error, a Cluster
the ServiceAccount may not use), and each generated Application with its cluster, sync and health.`,
		Example: `  kubectl ferry appset status guestbook-fleet -n ferry-system`,
		Args:    oneSet,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, statusOutput); err != nil {
				return err
			}
			return o.appSetStatus(c.Context(), args[0], statusOutput)
		},
	}
	addOutputFlag(status, &statusOutput)
	cmd.AddCommand(list, status)
	return cmd
}

func oneSet(c *cobra.Command, args []string) error {
	if len(args) != 1 || args[0] == "" {
		return usageError(c, "%s needs the ApplicationSet's name: %s", c.CommandPath(), c.UseLine())
	}
	return nil
}

func (o *Options) listAppSets(ctx context.Context, all bool, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	if all {
		ns = metav1.NamespaceAll
	}
	list, err := client.GitopsV1alpha1().ApplicationSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return apiError(err, request{resource: "applicationsets", verb: "list", namespace: ns})
	}
	if output != "" {
		list.APIVersion, list.Kind = gitopsv1alpha1.SchemeGroupVersion.String(), "ApplicationSetList"
		for i := range list.Items {
			typedSet(&list.Items[i])
		}
		return printObject(o.Out, output, list)
	}
	if len(list.Items) == 0 {
		fmt.Fprintln(o.ErrOut, "No ApplicationSets found.")
		return nil
	}
	t := &table{header: []string{"NAME", "APPLICATIONS", "SYNCED", "HEALTHY", "READY", "AGE", "MESSAGE"}, colored: map[int]bool{4: true}}
	if all {
		t.header = append([]string{"NAMESPACE"}, t.header...)
		t.colored = map[int]bool{5: true}
	}
	for i := range list.Items {
		set := &list.Items[i]
		synced, healthy := counts(set)
		ready, msg := setReady(set)
		n := len(set.Status.Applications)
		row := []string{set.Name, fmt.Sprint(n), fmt.Sprintf("%d/%d", synced, n), fmt.Sprintf("%d/%d", healthy, n), ready,
			age(o.Now(), set.CreationTimestamp), truncate(msg, maxListMessage)}
		if all {
			row = append([]string{set.Namespace}, row...)
		}
		t.add(row...)
	}
	t.write(o.Out, o.Color)
	return nil
}

func (o *Options) appSetStatus(ctx context.Context, name, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	set, err := client.GitopsV1alpha1().ApplicationSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return apiError(err, request{resource: "applicationsets", verb: "get", namespace: ns, name: name})
	}
	if output != "" {
		return printObject(o.Out, output, typedSet(set))
	}
	writeAppSetStatus(o.Out, o.Color, o.Now(), set)
	return nil
}

func writeAppSetStatus(w io.Writer, color bool, now time.Time, set *gitopsv1alpha1.ApplicationSet) {
	sa := set.Spec.ServiceAccountName
	if sa == "" {
		sa = "(the server's default, or Ferry itself in a privileged namespace)"
	}
	policy := string(set.Spec.SyncPolicy.ApplicationsSync)
	if policy == "" {
		policy = string(gitopsv1alpha1.ApplicationsSyncSync)
	}
	if set.Spec.SyncPolicy.PreserveResourcesOnDeletion {
		policy += ", preserving resources on deletion"
	}
	ready, msg := setReady(set)
	fmt.Fprintf(w, "Name:            %s/%s\n", set.Namespace, set.Name)
	fmt.Fprintf(w, "Acts as:         %s\n", sa)
	fmt.Fprintf(w, "Generators:      %s\n", strings.Join(describeGenerators(set.Spec.Generators), "; "))
	fmt.Fprintf(w, "Sync policy:     %s\n", policy)
	if set.Status.GitRevision != "" {
		fmt.Fprintf(w, "Git revision:    %s\n", shortSHA(set.Status.GitRevision))
	}
	fmt.Fprintf(w, "Ready:           %s", paint(color, ready))
	if msg != "" {
		fmt.Fprintf(w, "  %s", msg)
	}
	fmt.Fprintf(w, "\nAge:             %s\n\n", age(now, set.CreationTimestamp))
	rolling := set.Spec.Strategy != nil && set.Spec.Strategy.RollingSync != nil
	if rolling {
		writeRollout(w, color, set)
	}
	if len(set.Status.Applications) == 0 {
		fmt.Fprintln(w, "No Applications generated.")
		return
	}
	t := &table{header: []string{"APPLICATION", "CLUSTER", "SYNC", "HEALTH"}, colored: map[int]bool{2: true, 3: true}}
	if rolling {
		t.header = append(t.header, "STEP")
	}
	apps := append([]gitopsv1alpha1.ApplicationSetApplicationStatus(nil), set.Status.Applications...)
	sort.Slice(apps, func(i, j int) bool { return apps[i].Name < apps[j].Name })
	for _, a := range apps {
		cluster := a.Cluster
		if cluster == "" {
			cluster = "(in-cluster)"
		}
		row := []string{a.Name, cluster, orUnknown(string(a.Sync)), orUnknown(string(a.Health))}
		if rolling {
			row = append(row, orDash(a.Step))
		}
		t.add(row...)
	}
	t.write(w, color)
}

// writeRollout shows a rolling sync: where it stands, and each step with its selector, how many
// of its Applications are ready at the set's spec, and what it waits for.
func writeRollout(w io.Writer, color bool, set *gitopsv1alpha1.ApplicationSet) {
	state, msg := "Unknown", "not yet generated at this spec"
	if c := meta.FindStatusCondition(set.Status.Conditions, gitopsv1alpha1.ApplicationSetConditionRolledOut); c != nil {
		state, msg = c.Reason, c.Message
	}
	fmt.Fprintf(w, "Rollout:         %s  %s\n\n", paint(color, state), msg)
	t := &table{header: []string{"STEP", "SELECTOR", "MAX UPDATE", "PHASE", "READY", "MESSAGE"}, colored: map[int]bool{3: true}}
	byName := map[string]gitopsv1alpha1.RolloutStepStatus{}
	for _, st := range set.Status.Steps {
		byName[st.Name] = st
	}
	for i, step := range set.Spec.Strategy.RollingSync.Steps {
		name := step.StepName(i)
		maxUpdate := "100%"
		if step.MaxUpdate != nil {
			maxUpdate = step.MaxUpdate.String()
		}
		sel := metav1.FormatLabelSelector(&step.Selector)
		if sel == "<none>" { // an empty selector selects every Application, as planRollout reads it
			sel = "every Application"
		}
		t.add(stepRow(name, sel, maxUpdate, byName[name])...)
	}
	if st, ok := byName[gitopsv1alpha1.RolloutUnmatchedStep]; ok {
		t.add(stepRow(gitopsv1alpha1.RolloutUnmatchedStep, "(no step's selector)", "100%", st)...)
	}
	t.write(w, color)
	fmt.Fprintln(w)
}

func stepRow(name, selector, maxUpdate string, st gitopsv1alpha1.RolloutStepStatus) []string {
	return []string{name, selector, maxUpdate, orUnknown(string(st.Phase)),
		fmt.Sprintf("%d/%d", st.Ready, st.Applications), orDash(st.Message)}
}

func describeGenerators(gens []gitopsv1alpha1.ApplicationSetGenerator) []string {
	var out []string
	for _, g := range gens {
		if g.Matrix != nil {
			var parts []string
			for _, n := range g.Matrix.Generators {
				parts = append(parts, describeGenerator(n))
			}
			out = append(out, "matrix("+strings.Join(parts, " × ")+")")
			continue
		}
		out = append(out, describeGenerator(gitopsv1alpha1.ApplicationSetNestedGenerator{List: g.List, Clusters: g.Clusters, Git: g.Git}))
	}
	return out
}

func describeGenerator(g gitopsv1alpha1.ApplicationSetNestedGenerator) string {
	switch {
	case g.List != nil:
		return fmt.Sprintf("list of %d", len(g.List.Elements))
	case g.Clusters != nil:
		sel := metav1.FormatLabelSelector(&g.Clusters.Selector)
		if sel == "<none>" {
			sel = "every Cluster"
		}
		return "clusters " + sel
	case g.Git != nil:
		var globs []string
		for _, d := range g.Git.Directories {
			if d.Exclude {
				globs = append(globs, "!"+d.Path)
			} else {
				globs = append(globs, d.Path+"/")
			}
		}
		for _, f := range g.Git.Files {
			globs = append(globs, f.Path)
		}
		return fmt.Sprintf("git %s@%s %s", g.Git.RepoURL, orDash(g.Git.Revision), strings.Join(globs, " "))
	}
	return "?"
}

func counts(set *gitopsv1alpha1.ApplicationSet) (synced, healthy int) {
	for _, a := range set.Status.Applications {
		if a.Sync == gitopsv1alpha1.SyncStatusSynced {
			synced++
		}
		if a.Health == gitopsv1alpha1.HealthHealthy {
			healthy++
		}
	}
	return synced, healthy
}

func setReady(set *gitopsv1alpha1.ApplicationSet) (string, string) {
	if c := meta.FindStatusCondition(set.Status.Conditions, "Ready"); c != nil {
		return string(c.Status), c.Message
	}
	return "Unknown", ""
}

func typedSet(set *gitopsv1alpha1.ApplicationSet) *gitopsv1alpha1.ApplicationSet {
	set.APIVersion, set.Kind, set.ManagedFields = gitopsv1alpha1.SchemeGroupVersion.String(), "ApplicationSet", nil
	return set
}
