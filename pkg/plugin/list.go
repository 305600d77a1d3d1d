package plugin

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// maxListMessage keeps list's MESSAGE column short.
const maxListMessage = 60

func listOptions() metav1.ListOptions { return metav1.ListOptions{} }

func newListCommand(o *Options) *cobra.Command {
	var allNamespaces bool
	var output string
	cmd := &cobra.Command{
		Use:     "list [-A] [-o json|yaml]",
		Aliases: []string{"ls"},
		Short:   "List Applications with their sync, health, revision and readiness",
		Long: `List the Applications of the namespace (all namespaces with -A): NAME, SYNC, HEALTH,
REVISION (the commit last applied), READY (the Ready condition), AGE and MESSAGE (the running
operation, or the Ready condition's message).`,
		Example: `  kubectl ferry list
  kubectl ferry list -A
  kubectl ferry list -n team-a -o yaml`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.list(c, allNamespaces, output)
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "List the Applications of every namespace")
	addOutputFlag(cmd, &output)
	return cmd
}

func (o *Options) list(c *cobra.Command, all bool, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	if all {
		ns = metav1.NamespaceAll
	}
	list, err := client.GitopsV1alpha1().Applications(ns).List(c.Context(), listOptions())
	if err != nil {
		return apiError(err, request{verb: "list", namespace: ns})
	}
	if output != "" {
		list.APIVersion = gitopsv1alpha1.SchemeGroupVersion.String()
		list.Kind = "ApplicationList"
		for i := range list.Items {
			typed(&list.Items[i])
		}
		return printObject(o.Out, output, list)
	}
	if len(list.Items) == 0 {
		if all {
			fmt.Fprintln(o.ErrOut, "No Applications found.")
		} else {
			fmt.Fprintf(o.ErrOut, "No Applications found in namespace %s.\n", ns)
		}
		return nil
	}
	writeList(o.Out, o.Color, o.Now(), list.Items, all)
	return nil
}

// writeList prints Applications as list's table; withNamespace adds the NAMESPACE column.
func writeList(w io.Writer, color bool, now time.Time, apps []gitopsv1alpha1.Application, withNamespace bool) {
	t := &table{header: []string{"NAME", "SYNC", "HEALTH", "REVISION", "READY", "AGE", "MESSAGE"}, colored: map[int]bool{1: true, 2: true, 4: true}}
	if withNamespace {
		t.header = append([]string{"NAMESPACE"}, t.header...)
		t.colored = map[int]bool{2: true, 3: true, 5: true}
	}
	for i := range apps {
		app := &apps[i]
		row := []string{
			app.Name,
			orUnknown(string(app.Status.Sync.Status)),
			orUnknown(string(app.Status.Health.Status)),
			orDash(shortSHA(app.Status.Sync.Revision)),
			readyStatus(app),
			age(now, app.CreationTimestamp),
			truncate(statusMessage(app), maxListMessage),
		}
		if withNamespace {
			row = append([]string{app.Namespace}, row...)
		}
		t.add(row...)
	}
	t.write(w, color)
}

// readyStatus is the Ready condition's status, Unknown without one.
func readyStatus(app *gitopsv1alpha1.Application) string {
	if c := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionReady); c != nil {
		return string(c.Status)
	}
	return "Unknown"
}

// statusMessage is the most useful sentence about an Application: its running operation, or
// its Ready condition's message.
func statusMessage(app *gitopsv1alpha1.Application) string {
	if op := app.Status.Operation; activeOperation(op) {
		return fmt.Sprintf("sync %s (requested by %s)", op.Phase, op.RequestedBy.Username)
	}
	if app.Spec.Suspend {
		return "suspended"
	}
	if c := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionReady); c != nil {
		return c.Message
	}
	return ""
}

func activeOperation(op *gitopsv1alpha1.Operation) bool {
	return op != nil && (op.Phase == gitopsv1alpha1.OperationPending || op.Phase == gitopsv1alpha1.OperationRunning)
}

// typed sets the Application's apiVersion and kind (the typed client leaves them empty) and drops
// managedFields, as kubectl does when printing.
func typed(app *gitopsv1alpha1.Application) *gitopsv1alpha1.Application {
	app.APIVersion = gitopsv1alpha1.SchemeGroupVersion.String()
	app.Kind = "Application"
	app.ManagedFields = nil
	return app
}
