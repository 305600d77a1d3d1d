package plugin

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// maxHistoryMessage bounds the MESSAGE column of history's table.
const maxHistoryMessage = 80

func newHistoryCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "history APP [-o json|yaml]",
		Short: "List the last finished sync operations of an Application",
		Long: `List the Application's status.history, newest first: the last finished sync operations
with their phase, the commit they applied, who requested them, when they finished and their
message. An operation still pending or running is named above the table.
-o json|yaml prints the history entries (status.history).`,
		Example: `  kubectl ferry history guestbook
  kubectl ferry history guestbook -o yaml`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.history(c.Context(), args[0], output)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func (o *Options) history(ctx context.Context, name, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	app, err := client.GitopsV1alpha1().Applications(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return apiError(err, request{verb: "get", namespace: ns, name: name})
	}
	if output != "" {
		h := app.Status.History
		if h == nil {
			h = []gitopsv1alpha1.OperationRecord{}
		}
		return printObject(o.Out, output, h)
	}
	if op := app.Status.Operation; activeOperation(op) {
		fmt.Fprintf(o.Out, "Operation %s is %s (requested by %s %s).\n", shortID(op.ID),
			paint(o.Color, string(op.Phase)), op.RequestedBy.Username, ago(o.Now(), &op.RequestedAt))
	}
	if len(app.Status.History) == 0 {
		fmt.Fprintf(o.ErrOut, "No finished operations recorded for Application %s in namespace %s.\n", name, ns)
		return nil
	}
	writeHistory(o.Out, o.Color, o.Now(), app.Status.History)
	return nil
}

func writeHistory(w io.Writer, color bool, now time.Time, history []gitopsv1alpha1.OperationRecord) {
	t := &table{header: []string{"ID", "PHASE", "REVISION", "REQUESTED-BY", "FINISHED", "MESSAGE"}, colored: map[int]bool{1: true}}
	for _, h := range history {
		rev := h.SyncedRevision
		if rev == "" {
			rev = h.Revision
		}
		msg := h.Message
		switch {
		case h.DryRun && h.Prune:
			msg = "(dry run, prune) " + msg
		case h.DryRun:
			msg = "(dry run) " + msg
		case h.Prune:
			msg = "(prune) " + msg
		}
		t.add(shortID(h.ID), string(h.Phase), orDash(shortSHA(rev)), orDash(h.RequestedBy), ago(now, h.FinishedAt), truncate(msg, maxHistoryMessage))
	}
	t.write(w, color)
}
