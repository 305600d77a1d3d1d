package plugin

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// DefaultDeleteTimeout is how long delete waits for the Application to go: a minute more than
// ferry-apiserver's default --finalizer-timeout, after which Ferry lets any Application go.
const DefaultDeleteTimeout = 6 * time.Minute

// deletePoll is how often delete looks at the Application while it waits, and deleteHeartbeat
// how often it says it is still waiting when nothing changed.
const (
	deletePoll      = time.Second
	deleteHeartbeat = 10 * time.Second
)

type deleteFlags struct {
	cascade string
	wait    bool
	timeout time.Duration
}

func newDeleteCommand(o *Options) *cobra.Command {
	var f deleteFlags
	cmd := &cobra.Command{
		Use:   "delete APP [--cascade=background|foreground|orphan] [--wait=false] [--timeout 6m]",
		Short: "Delete an Application, showing what Ferry prunes, and wait until it is gone",
		Long: `Delete an Application (permission "delete applications"). First print what Ferry will prune:
the objects of its status.resources, the record of what it applied. Nothing is asked.

Ferry prunes them as the Application's ServiceAccount, then lets the Application go. An object
that ServiceAccount may not delete is left, and a Warning Event names it; when pruning fails for
any other reason Ferry retries for up to ferry-apiserver's --finalizer-timeout (default 5m), then
lets the Application go with a Warning Event naming each object not deleted.

--cascade=orphan deletes the Application and keeps every object, as kubectl delete --cascade=orphan
does. With --wait (the default) follow the deletion until the Application is gone; exit code 2 on
a timeout — the deletion goes on in the cluster.`,
		Example: `  kubectl ferry delete guestbook
  kubectl ferry delete guestbook --cascade=orphan
  kubectl ferry delete guestbook --wait=false`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			switch f.cascade {
			case "background", "foreground", "orphan":
			default:
				return usageError(c, "--cascade must be background, foreground or orphan, got %q", f.cascade)
			}
			if f.timeout <= 0 {
				return usageError(c, "--timeout must be positive, got %s", f.timeout)
			}
			return o.delete(c.Context(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.cascade, "cascade", "background", `"orphan" keeps the Application's objects; "background" or "foreground" lets Ferry prune them`)
	cmd.Flags().BoolVarP(&f.wait, "wait", "w", true, "Wait until the Application is gone and show the progress")
	cmd.Flags().DurationVar(&f.timeout, "timeout", DefaultDeleteTimeout, "With --wait, how long to wait before giving up (exit code 2)")
	return cmd
}

func (o *Options) delete(ctx context.Context, name string, f deleteFlags) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	apps := client.GitopsV1alpha1().Applications(ns)
	req := request{verb: "delete", namespace: ns, name: name}
	app, err := apps.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return apiError(err, req)
	}
	writePlan(o.Out, app, f.cascade == "orphan")

	policy := metav1.DeletePropagationBackground
	switch f.cascade {
	case "orphan":
		policy = metav1.DeletePropagationOrphan
	case "foreground":
		policy = metav1.DeletePropagationForeground
	}
	// The UID precondition deletes the Application just described, not one made again since.
	opts := metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &app.UID}}
	if err := apps.Delete(ctx, name, opts); err != nil && !apierrors.IsNotFound(err) {
		return apiError(err, req)
	}
	fmt.Fprintf(o.Out, "application %s/%s deletion requested\n", ns, name)
	if !f.wait {
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	start := o.Now()
	last, lastAt := "", start
	ticker := time.NewTicker(deletePoll)
	defer ticker.Stop()
	for {
		cur, err := apps.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || err == nil && cur.UID != app.UID:
			fmt.Fprintf(o.Out, "application %s/%s deleted (%s)\n", ns, name, o.Now().Sub(start).Round(time.Second))
			return nil
		case err != nil && ctx.Err() == nil:
			return apiError(err, request{verb: "get", namespace: ns, name: name})
		case err == nil:
			if now := o.Now(); waitingFor(cur) != last || now.Sub(lastAt) >= deleteHeartbeat {
				last, lastAt = waitingFor(cur), now
				fmt.Fprintf(o.Out, "  %s: %s\n", now.Sub(start).Round(time.Second), last)
			}
		}
		select {
		case <-ctx.Done():
			return &ExitError{Code: ExitCodeError,
				Msg:  fmt.Sprintf("application %s/%s still exists after %s: %s", ns, name, f.timeout, last),
				Hint: fmt.Sprintf("The deletion goes on in the cluster. Its Events say what holds it: kubectl get events -n %s --field-selector involvedObject.name=%s", ns, name)}
		case <-ticker.C:
		}
	}
}

// writePlan prints what deleting app does to its objects.
func writePlan(w io.Writer, app *gitopsv1alpha1.Application, orphan bool) {
	res := app.Status.Resources
	keep := orphan || app.Annotations[gitopsv1alpha1.DeletionPolicyAnnotation] == gitopsv1alpha1.DeletionPolicyOrphan
	switch {
	case len(res) == 0:
		fmt.Fprintf(w, "Application %s/%s has applied no objects: nothing to prune.\n", app.Namespace, app.Name)
		return
	case keep && orphan:
		fmt.Fprintf(w, "Deleting Application %s/%s, keeping its %d %s (--cascade=orphan):\n", app.Namespace, app.Name, len(res), plural(len(res), "object", "objects"))
	case keep:
		fmt.Fprintf(w, "Deleting Application %s/%s, keeping its %d %s (annotation %s=%s):\n", app.Namespace, app.Name, len(res), plural(len(res), "object", "objects"),
			gitopsv1alpha1.DeletionPolicyAnnotation, gitopsv1alpha1.DeletionPolicyOrphan)
	default:
		fmt.Fprintf(w, "Deleting Application %s/%s; Ferry prunes %d %s:\n", app.Namespace, app.Name, len(res), plural(len(res), "object", "objects"))
	}
	t := &table{header: []string{"KIND", "NAMESPACE", "NAME"}}
	for _, r := range res {
		t.add(kindLabel(r.Group, r.Kind), orDash(r.Namespace), r.Name)
	}
	t.write(w, false)
}

// waitingFor says what a deleted Application still waits for.
func waitingFor(app *gitopsv1alpha1.Application) string {
	if app.DeletionTimestamp == nil {
		return "deletion not started yet"
	}
	var others []string
	pruning := false
	for _, f := range app.Finalizers {
		if f == gitopsv1alpha1.PruneFinalizer {
			pruning = true
		} else {
			others = append(others, f)
		}
	}
	slices.Sort(others)
	switch {
	case pruning && len(others) > 0:
		return "Ferry is pruning its objects; also waiting for finalizers " + strings.Join(others, ", ")
	case pruning:
		return "Ferry is pruning its objects"
	case len(others) > 0:
		return "waiting for finalizers " + strings.Join(others, ", ")
	}
	return "being removed"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
