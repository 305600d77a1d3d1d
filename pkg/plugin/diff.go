package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func newDiffCommand(o *Options) *cobra.Command {
	var revision, output string
	cmd := &cobra.Command{
		Use:   "diff APP [--revision R] [-o json|yaml]",
		Short: "Show what a sync of an Application would change in the cluster",
		Long: `Show what a sync would change: Ferry renders the Application at a revision, runs a server-side
apply dry run as the Application's identity and compares the result with the live objects
(GET applications/APP/diff, permission "get applications/diff", granted by the ferry-view
ClusterRole). Nothing in the cluster changes.

Every object a sync would create (+), update (~) or delete with --prune (-) is printed with a
unified diff of its YAML, live before and desired after, then a summary. Fields listed in the
Application's ignoreDifferences do not count, and Secret values are masked. --revision compares
a branch, tag or commit other than the Application's spec.source.revision. -o json|yaml prints
the ApplicationDiff.

Exit codes, as for kubectl diff: 0 when a sync would change nothing; 1 when it would change
something; 2 on any error.`,
		Example: `  kubectl ferry diff guestbook
  kubectl ferry diff guestbook --revision v1.2.0
  kubectl ferry diff guestbook -o yaml`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.diff(c.Context(), args[0], revision, output)
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "", "Branch, tag or full commit SHA to compare with the cluster (default: the Application's spec.source.revision)")
	addOutputFlag(cmd, &output)
	return cmd
}

// errDiffers ends diff with exit code 1 and no message: the differences were printed.
var errDiffers = &ExitError{Code: ExitCodeDifferences}

func (o *Options) diff(ctx context.Context, name, revision, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	d, err := client.GitopsV1alpha1().Applications(ns).Diff(ctx, name, gitopsv1alpha1.ApplicationDiffOptions{Revision: revision})
	if err != nil {
		return apiError(err, request{verb: "get", subresource: "diff", namespace: ns, name: name, revision: revision})
	}
	if output != "" {
		d.APIVersion = gitopsv1alpha1.SchemeGroupVersion.String()
		d.Kind = "ApplicationDiff"
		d.ManagedFields = nil
		if err := printObject(o.Out, output, d); err != nil {
			return err
		}
	} else {
		writeDiff(o.Out, o.Color, name, d)
	}
	if changes(d) > 0 {
		return errDiffers
	}
	return nil
}

// changes counts the objects a sync would create, update or delete.
func changes(d *gitopsv1alpha1.ApplicationDiff) int {
	n := 0
	for _, it := range d.Items {
		if it.Action != gitopsv1alpha1.DiffNone && it.Action != "" {
			n++
		}
	}
	return n
}

// writeDiff prints every object a sync would change, a header line then its unified diff, and a
// summary; or a line saying there is nothing to change.
func writeDiff(w io.Writer, color bool, app string, d *gitopsv1alpha1.ApplicationDiff) {
	var create, update, del, none int
	for _, it := range d.Items {
		switch it.Action {
		case gitopsv1alpha1.DiffCreate:
			create++
		case gitopsv1alpha1.DiffUpdate:
			update++
		case gitopsv1alpha1.DiffDelete:
			del++
		default:
			none++
		}
	}
	rev := shortSHA(d.Revision)
	if create+update+del == 0 {
		at := ""
		if rev != "" {
			at = " with " + rev
		}
		fmt.Fprintf(w, "No differences: %s is in sync%s (%s).\n", app, at, objectCount(none))
		return
	}
	for _, it := range d.Items {
		sign, ok := diffSigns[it.Action]
		if !ok {
			continue
		}
		fmt.Fprintln(w, bold(color, sign+" "+string(it.Action)+" "+objectLabel(it)))
		writeUnified(w, color, it.Diff)
		fmt.Fprintln(w)
	}
	summary := fmt.Sprintf("%d to create, %d to update, %d to delete, %d unchanged", create, update, del, none)
	if rev != "" {
		summary += " (revision " + rev + ")"
	}
	fmt.Fprintln(w, summary)
}

// diffSigns marks the header of each object a sync would change.
var diffSigns = map[gitopsv1alpha1.DiffAction]string{
	gitopsv1alpha1.DiffCreate: "+",
	gitopsv1alpha1.DiffUpdate: "~",
	gitopsv1alpha1.DiffDelete: "-",
}

func objectCount(n int) string {
	switch n {
	case 0:
		return "no objects"
	case 1:
		return "1 object"
	}
	return fmt.Sprintf("%d objects", n)
}

// objectLabel is "apps/v1 Deployment ns/name", or "v1 Namespace name" for a cluster-scoped
// object of the core group.
func objectLabel(it gitopsv1alpha1.ResourceDiff) string {
	apiVersion := it.Version
	if it.Group != "" {
		apiVersion = it.Group + "/" + it.Version
	}
	name := it.Name
	if it.Namespace != "" {
		name = it.Namespace + "/" + it.Name
	}
	return apiVersion + " " + it.Kind + " " + name
}

// writeUnified prints a unified diff, coloured like git's when color is on: the ---/+++ file
// headers bold, @@ hunk headers cyan, removed lines red and added lines green.
func writeUnified(w io.Writer, color bool, diff string) {
	if diff == "" {
		return
	}
	inHunk := false
	for _, line := range strings.Split(strings.TrimSuffix(diff, "\n"), "\n") {
		style := ""
		switch {
		case strings.HasPrefix(line, "@@"):
			inHunk = true
			style = ansiCyan
		case !inHunk && (strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "+++ ")):
			style = ansiBold
		case strings.HasPrefix(line, "-"):
			style = ansiRed
		case strings.HasPrefix(line, "+"):
			style = ansiGreen
		}
		if color && style != "" {
			line = style + line + ansiReset
		}
		fmt.Fprintln(w, line)
	}
}

// bold is s in bold when colours are on.
func bold(on bool, s string) string {
	if on {
		return ansiBold + s + ansiReset
	}
	return s
}
