package plugin

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	typedgitops "github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/typed/gitops/v1alpha1"
)

// DefaultRefreshTimeout is how long refresh --wait waits unless --timeout says otherwise.
const DefaultRefreshTimeout = 2 * time.Minute

// refreshPoll is how often refresh --wait looks at the Applications it waits for.
const refreshPoll = 500 * time.Millisecond

type refreshFlags struct {
	selector      string
	all           bool
	allNamespaces bool
	reason        string
	wait          bool
	timeout       time.Duration
}

func newRefreshCommand(o *Options) *cobra.Command {
	var f refreshFlags
	cmd := &cobra.Command{
		Use:   "refresh (APP | -l SELECTOR | --all) [-A] [--reason TEXT] [--wait [--timeout 2m]]",
		Short: "Make Ferry look for new commits now instead of at the interval",
		Long: `Request a refresh: a POST to the Application's refresh subresource (permission
"create applications/refresh", granted by the ferry-edit ClusterRole). Ferry's controller lists
the repository's branches and tags at once instead of at spec.syncPolicy.interval; an automated
Application then syncs a new commit, a manual one reports OutOfSync. Refreshes of Applications of
one repository requested together cost one listing.

A CI pipeline that has Kubernetes credentials runs this after a push: no webhook endpoint needs to
be reachable from the Git host.

-l SELECTOR refreshes the Applications of the namespace (every namespace with -A) whose labels
match; --all refreshes all of them. Suspended Applications are skipped (they do not reconcile);
naming one refuses the refresh (409).

With --wait, wait until the controller has handled each refresh and print what it found.
Exit codes: 0 when every refresh was recorded (and, with --wait, handled); 1 when the server
refused one because the Application is suspended or being deleted (409); 2 on a timeout or any
other error.`,
		Example: `  kubectl ferry refresh guestbook
  kubectl ferry refresh guestbook --wait
  kubectl ferry refresh -l team=shop --reason "release 1.4"
  kubectl ferry refresh --all -A`,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			bulk := f.selector != "" || f.all
			switch {
			case len(args) > 1:
				return usageError(c, "%s takes one Application, got %d arguments", c.CommandPath(), len(args))
			case len(args) == 1 && bulk:
				return usageError(c, "name an Application, or select some with -l or --all, not both")
			case len(args) == 0 && !bulk:
				return usageError(c, "%s needs an Application's name, -l SELECTOR or --all: %s", c.CommandPath(), c.UseLine())
			case f.selector != "" && f.all:
				return usageError(c, "-l and --all exclude each other")
			case f.allNamespaces && !bulk:
				return usageError(c, "-A needs -l or --all")
			case c.Flags().Changed("timeout") && !f.wait:
				return usageError(c, "--timeout needs --wait")
			case f.timeout <= 0:
				return usageError(c, "--timeout must be positive, got %s", f.timeout)
			case len(args) == 1 && args[0] == "":
				return usageError(c, "the Application's name is empty")
			}
			if f.selector != "" {
				if _, err := labels.Parse(f.selector); err != nil {
					return usageError(c, "-l %q: %v", f.selector, err)
				}
			}
			return o.refresh(c.Context(), args, f)
		},
	}
	cmd.Flags().StringVarP(&f.selector, "selector", "l", "", "Refresh the Applications whose labels match this selector")
	cmd.Flags().BoolVar(&f.all, "all", false, "Refresh every Application of the namespace (of every namespace with -A)")
	cmd.Flags().BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "With -l or --all, select in every namespace")
	cmd.Flags().StringVar(&f.reason, "reason", "", "Why, recorded in status.refresh.reason (at most 256 characters)")
	cmd.Flags().BoolVarP(&f.wait, "wait", "w", false, "Wait until Ferry has handled each refresh and show what it found")
	cmd.Flags().DurationVar(&f.timeout, "timeout", DefaultRefreshTimeout, "With --wait, how long to wait before giving up (exit code 2)")
	return cmd
}

// refreshed is one recorded refresh, awaited by --wait.
type refreshed struct {
	namespace, name string
	requestedAt     metav1.MicroTime
}

func (o *Options) refresh(ctx context.Context, args []string, f refreshFlags) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	type target struct{ namespace, name string }
	var targets []target
	if len(args) == 1 {
		targets = []target{{ns, args[0]}}
	} else {
		listNS := ns
		if f.allNamespaces {
			listNS = metav1.NamespaceAll
		}
		list, err := client.GitopsV1alpha1().Applications(listNS).List(ctx, metav1.ListOptions{LabelSelector: f.selector})
		if err != nil {
			return apiError(err, request{verb: "list", namespace: listNS})
		}
		for _, app := range list.Items {
			if app.Spec.Suspend {
				fmt.Fprintf(o.Out, "%s/%s is suspended: skipped\n", app.Namespace, app.Name)
				continue
			}
			targets = append(targets, target{app.Namespace, app.Name})
		}
		if len(list.Items) == 0 {
			where := "namespace " + ns
			if f.allNamespaces {
				where = "any namespace"
			}
			fmt.Fprintf(o.ErrOut, "No Applications in %s match.\n", where)
			return nil
		}
	}

	var done []refreshed
	var refused *ExitError
	for _, t := range targets {
		req := &gitopsv1alpha1.ApplicationRefresh{
			TypeMeta:   metav1.TypeMeta{APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationRefresh"},
			ObjectMeta: metav1.ObjectMeta{Name: t.name, Namespace: t.namespace},
			Spec:       gitopsv1alpha1.ApplicationRefreshSpec{Reason: f.reason},
		}
		resp, err := client.GitopsV1alpha1().Applications(t.namespace).Refresh(ctx, t.name, req, metav1.CreateOptions{})
		if apierrors.IsConflict(err) && len(targets) > 1 {
			// Suspended or being deleted since the list: say so, refresh the others.
			fmt.Fprintf(o.ErrOut, "refresh of %s/%s refused: %s\n", t.namespace, t.name, errMessage(err))
			refused = &ExitError{Code: ExitCodeFailed, Msg: "some refreshes were refused"}
			continue
		}
		if err != nil {
			return apiError(err, request{verb: "create", subresource: "refresh", namespace: t.namespace, name: t.name})
		}
		fmt.Fprintf(o.Out, "refresh of %s/%s requested\n", t.namespace, t.name)
		done = append(done, refreshed{namespace: t.namespace, name: t.name, requestedAt: resp.Status.RequestedAt})
	}
	if f.wait && len(done) > 0 {
		if err := o.waitRefreshed(ctx, client.GitopsV1alpha1(), done, f.timeout); err != nil {
			return err
		}
	}
	if refused != nil {
		return refused
	}
	return nil
}

// waitRefreshed polls each Application until its status.refresh.handledAt reaches the time its
// refresh was recorded, and prints what the controller found then.
func (o *Options) waitRefreshed(ctx context.Context, client typedgitops.GitopsV1alpha1Interface, pending []refreshed, timeout time.Duration) error {
	start := o.Now()
	fmt.Fprintf(o.Out, "Waiting for %d %s (timeout %s):\n", len(pending), plural(len(pending), "refresh", "refreshes"), timeout)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ticker := time.NewTicker(refreshPoll)
	defer ticker.Stop()
	for {
		var still []refreshed
		for _, r := range pending {
			app, err := client.Applications(r.namespace).Get(wctx, r.name, metav1.GetOptions{})
			if err != nil {
				if wctx.Err() != nil {
					still = append(still, r)
					continue
				}
				return apiError(err, request{verb: "get", namespace: r.namespace, name: r.name})
			}
			if h := app.Status.Refresh; h == nil || h.HandledAt == nil || h.HandledAt.Before(&r.requestedAt) {
				still = append(still, r)
				continue
			}
			elapsed := o.Now().Sub(start).Round(100 * time.Millisecond)
			fmt.Fprintf(o.Out, "%8s  %s/%s: %s at %s (source %s)\n", elapsed, r.namespace, r.name,
				paint(o.Color, string(orUnknownSync(app.Status.Sync.Status))), orDash(shortSHA(app.Status.Sync.Revision)), orDash(shortSHA(app.Status.SourceRevision)))
		}
		pending = still
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return &ExitError{Code: ExitCodeError, Msg: "interrupted while waiting for refreshes"}
			}
			first := pending[0]
			return &ExitError{Code: ExitCodeError,
				Msg:  fmt.Sprintf("timed out after %s: %d %s not handled yet, such as %s/%s", timeout, len(pending), plural(len(pending), "refresh", "refreshes"), first.namespace, first.name),
				Hint: fmt.Sprintf("The refresh goes on in the cluster. Follow it with: kubectl ferry status %s -n %s", first.name, first.namespace)}
		case <-ticker.C:
		}
	}
}

func orUnknownSync(s gitopsv1alpha1.SyncStatusCode) gitopsv1alpha1.SyncStatusCode {
	if s == "" {
		return gitopsv1alpha1.SyncStatusUnknown
	}
	return s
}
