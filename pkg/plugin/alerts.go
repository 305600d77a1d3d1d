package plugin

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// maxAlertError bounds the ERROR column of alerts' table.
const maxAlertError = 60

func newAlertsCommand(o *Options) *cobra.Command {
	var allNamespaces bool
	var output string
	cmd := &cobra.Command{
		Use:   "alerts [ALERT] [-A] [-o json|yaml]",
		Short: "List the recent deliveries of Alerts",
		Long: `List what Alerts sent lately (their status.recentDeliveries, newest first): when, the Alert,
the Application and trigger, the revision, the AlertProvider, the result, how many attempts it
took and why it failed (the status code or the network error, never the provider's answer).
Without ALERT, every Alert of the namespace (every namespace with -A).
-o json|yaml prints the deliveries with the Alert's namespace and name.`,
		Example: `  kubectl ferry alerts
  kubectl ferry alerts on-call -n team-a
  kubectl ferry alerts -A -o yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return o.alerts(c, name, allNamespaces, output)
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "List the deliveries of Alerts of every namespace")
	addOutputFlag(cmd, &output)
	return cmd
}

// alertDelivery is one delivery with the Alert that made it, as -o json|yaml prints it.
type alertDelivery struct {
	Namespace string `json:"namespace"`
	Alert     string `json:"alert"`
	gitopsv1alpha1.AlertDelivery
}

func (o *Options) alerts(c *cobra.Command, name string, all bool, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	var alerts []gitopsv1alpha1.Alert
	switch {
	case name != "":
		a, err := client.GitopsV1alpha1().Alerts(ns).Get(c.Context(), name, metav1.GetOptions{})
		if err != nil {
			return apiError(err, request{resource: "alerts", verb: "get", namespace: ns, name: name})
		}
		alerts = []gitopsv1alpha1.Alert{*a}
	default:
		if all {
			ns = metav1.NamespaceAll
		}
		list, err := client.GitopsV1alpha1().Alerts(ns).List(c.Context(), listOptions())
		if err != nil {
			return apiError(err, request{resource: "alerts", verb: "list", namespace: ns})
		}
		alerts = list.Items
	}
	deliveries := []alertDelivery{}
	for _, a := range alerts {
		for _, d := range a.Status.RecentDeliveries {
			deliveries = append(deliveries, alertDelivery{Namespace: a.Namespace, Alert: a.Name, AlertDelivery: d})
		}
	}
	if output != "" {
		return printObject(o.Out, output, deliveries)
	}
	if len(alerts) == 0 {
		fmt.Fprintln(o.ErrOut, "No Alerts found.")
		return nil
	}
	for _, a := range alerts {
		if msg := failedDelivery(&a); msg != "" {
			fmt.Fprintf(o.Out, "Alert %s: %s\n", a.Name, msg)
		}
	}
	if len(deliveries) == 0 {
		fmt.Fprintln(o.ErrOut, "No deliveries recorded yet.")
		return nil
	}
	writeDeliveries(o.Out, o.Color, o.Now(), deliveries, all)
	return nil
}

// failedDelivery is the Delivered condition's message when the last delivery failed.
func failedDelivery(a *gitopsv1alpha1.Alert) string {
	for _, c := range a.Status.Conditions {
		if c.Type == gitopsv1alpha1.AlertConditionDelivered && c.Status == metav1.ConditionFalse {
			return c.Message
		}
	}
	return ""
}

func writeDeliveries(w io.Writer, color bool, now time.Time, ds []alertDelivery, withNamespace bool) {
	header := []string{"TIME", "ALERT", "APPLICATION", "TRIGGER", "REVISION", "PROVIDER", "RESULT", "ATTEMPTS", "ERROR"}
	colored := map[int]bool{6: true}
	if withNamespace {
		header = append([]string{"NAMESPACE"}, header...)
		colored = map[int]bool{7: true}
	}
	t := &table{header: header, colored: colored}
	for _, d := range ds {
		row := []string{ago(now, &d.Time), d.Alert, d.Application, string(d.Trigger), orDash(shortSHA(d.Revision)), d.Provider,
			string(d.Result), fmt.Sprint(d.Attempts), orDash(truncate(d.Error, maxAlertError))}
		if withNamespace {
			row = append([]string{d.Namespace}, row...)
		}
		t.add(row...)
	}
	t.write(w, color)
}
