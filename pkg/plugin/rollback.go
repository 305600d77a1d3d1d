package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

type rollbackFlags struct {
	prune    bool
	override bool
	wait     bool
	timeout  time.Duration
}

func newRollbackCommand(o *Options) *cobra.Command {
	var f rollbackFlags
	cmd := &cobra.Command{
		Use:   "rollback APP [ID] [--prune] [--wait [--timeout 5m]]",
		Short: "Sync an Application back to what an earlier sync applied, and hold it there",
		Long: `Roll back: a POST to the Application's rollback subresource (permission
"create applications/rollback", granted by the ferry-edit ClusterRole). Ferry syncs the
Application to the revision the history entry ID applied (see kubectl ferry history; its first 8
characters are enough) — of every
source, a chart's version included — or, without ID, to the newest successful sync at another
revision than the one synced now.

An automated Application then stays at that revision while Git still names the one rolled back
from (condition RolledBack): push a fix and it follows Git again, or run kubectl ferry resume
to follow Git at once.

With --wait, follow the operation like kubectl ferry sync --wait. Exit codes: 0 when it
succeeded; 1 when it failed or another operation is pending or running (409); 2 on a timeout or
any other error.`,
		Example: `  kubectl ferry rollback guestbook --wait
  kubectl ferry history guestbook
  kubectl ferry rollback guestbook 0c7c1b52 --prune --wait`,
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkWaitFlags(c, f.wait, f.timeout); err != nil {
				return err
			}
			id := ""
			if len(args) == 2 {
				id = args[1]
			}
			return o.rollback(c.Context(), args[0], id, f)
		},
	}
	cmd.Flags().BoolVar(&f.prune, "prune", false, "Delete the objects the revision rolled back to does not hold")
	cmd.Flags().BoolVar(&f.override, "override-sync-windows", false, "Roll back although a SyncWindow blocks syncs (needs the verb override on syncwindows)")
	cmd.Flags().BoolVarP(&f.wait, "wait", "w", false, "Wait for the operation to finish and show its progress")
	cmd.Flags().DurationVar(&f.timeout, "timeout", DefaultSyncTimeout, "With --wait, how long to wait before giving up (exit code 2)")
	return cmd
}

func (o *Options) rollback(ctx context.Context, name, id string, f rollbackFlags) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	apps := client.GitopsV1alpha1().Applications(ns)
	req := &gitopsv1alpha1.ApplicationRollback{
		TypeMeta:   metav1.TypeMeta{APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationRollback"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       gitopsv1alpha1.ApplicationRollbackSpec{ID: id, Prune: f.prune, OverrideSyncWindows: f.override},
	}
	resp, err := apps.Rollback(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return apiError(err, request{verb: "create", subresource: "rollback", namespace: ns, name: name})
	}
	fmt.Fprintf(o.Out, "rollback of %s/%s to %s requested: operation %s (%s)\n", ns, name,
		gitopsv1alpha1.ShortRevision(resp.Status.Revision), resp.Status.OperationID, paint(o.Color, string(orPending(resp.Status.Phase))))
	if !f.wait {
		fmt.Fprintf(o.Out, "Follow it with: kubectl ferry status %s -n %s\n", name, ns)
		return nil
	}
	w := &operationWaiter{
		out: o.Out, color: o.Color, now: o.Now,
		apps: apps, namespace: ns, name: name, id: resp.Status.OperationID,
		resourceVersion: resp.Status.ApplicationResourceVersion,
	}
	return w.wait(ctx, f.timeout)
}

func newResumeCommand(o *Options) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "resume APP [--wait [--timeout 5m]]",
		Short: "End a rollback's hold: sync the Application to what Git names now",
		Long: `Resume following Git after kubectl ferry rollback: a sync to the Application's own
revision (a POST to its sync subresource, permission "create applications/sync"), which ends the
hold at the revision rolled back to. Exit codes as kubectl ferry sync.`,
		Example:           `  kubectl ferry resume guestbook --wait`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkWaitFlags(c, f.wait, f.timeout); err != nil {
				return err
			}
			return o.sync(c.Context(), args[0], f)
		},
	}
	cmd.Flags().BoolVarP(&f.wait, "wait", "w", false, "Wait for the sync to finish and show its progress")
	cmd.Flags().DurationVar(&f.timeout, "timeout", DefaultSyncTimeout, "With --wait, how long to wait before giving up (exit code 2)")
	return cmd
}
