package plugin

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// maxHealthMessage bounds the MESSAGE column of health's table.
const maxHealthMessage = 100

func newHealthCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "health APP [-o json|yaml]",
		Short: "Show the live health of an Application and of every object it manages",
		Long: `Show the health of an Application's objects, read live from the cluster by Ferry at the
time of the request (GET applications/APP/health, permission "get applications/health", granted
by the ferry-view ClusterRole): the overall health, the worst of the objects', then one row per
object. -o json|yaml prints the ApplicationHealth.`,
		Example: `  kubectl ferry health guestbook
  kubectl ferry health guestbook -o json`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.health(c.Context(), args[0], output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (o *Options) health(ctx context.Context, name, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	h, err := client.GitopsV1alpha1().Applications(ns).GetHealth(ctx, name, metav1.GetOptions{})
	if err != nil {
		return apiError(err, request{verb: "get", subresource: "health", namespace: ns, name: name})
	}
	if output != "" {
		h.APIVersion = gitopsv1alpha1.SchemeGroupVersion.String()
		h.Kind = "ApplicationHealth"
		h.ManagedFields = nil
		return printObject(o.Out, output, h)
	}
	writeHealth(o.Out, o.Color, h)
	return nil
}

func writeHealth(w io.Writer, color bool, h *gitopsv1alpha1.ApplicationHealth) {
	line := "Health: " + paint(color, orUnknown(string(h.Status)))
	if h.Message != "" {
		line += " (" + truncate(h.Message, maxHealthMessage) + ")"
	}
	fmt.Fprintln(w, line)
	if len(h.Resources) == 0 {
		fmt.Fprintln(w, "No managed objects.")
		return
	}
	fmt.Fprintln(w)
	res := append([]gitopsv1alpha1.ResourceHealth(nil), h.Resources...)
	sort.SliceStable(res, func(i, j int) bool {
		a, b := res[i], res[j]
		if ka, kb := kindLabel(a.Group, a.Kind), kindLabel(b.Group, b.Kind); ka != kb {
			return ka < kb
		}
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	t := &table{header: []string{"KIND", "NAMESPACE", "NAME", "HEALTH", "MESSAGE"}, colored: map[int]bool{3: true}}
	for _, r := range res {
		t.add(kindLabel(r.Group, r.Kind), orDash(r.Namespace), r.Name, orUnknown(string(r.Status)), truncate(r.Message, maxHealthMessage))
	}
	t.write(w, color)
}
