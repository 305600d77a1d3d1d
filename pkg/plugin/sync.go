package plugin

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	typedgitops "github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/typed/gitops/v1alpha1"
)

// DefaultSyncTimeout is how long sync --wait waits unless --timeout says otherwise.
const DefaultSyncTimeout = 5 * time.Minute

// rewatchDelay spaces out watches that end at once, so a failing watch does not spin.
const rewatchDelay = time.Second

type syncFlags struct {
	revision  string
	prune     bool
	dryRun    bool
	wait      bool
	timeout   time.Duration
	resources []string
	override  bool
}

func newSyncCommand(o *Options) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "sync APP [--revision R] [--prune] [--dry-run] [--resource KIND/NAME ...] [--wait [--timeout 5m]]",
		Short: "Request a sync of an Application, and optionally wait for it to finish",
		Long: `Request a sync: a POST to the Application's sync subresource (permission
"create applications/sync", granted by the ferry-edit ClusterRole). Ferry records the operation,
with you as its requester, and its controller runs it. The operation id is printed.

With --resource (repeatable), the sync applies only the named objects and prunes nothing: KIND/NAME
for an object of the core group in any namespace, GROUP/KIND/NAMESPACE/NAME otherwise (an empty
GROUP or NAMESPACE field matches the core group or any namespace). The server refuses an entry that
names no object the revision renders.

With --wait, follow the operation (Pending → Running → Succeeded | Failed) and print each change.
Exit codes: 0 when the operation succeeded; 1 when it failed (its message on stderr) or when the
server refused the sync because another operation is pending or running (409); 2 on a timeout or
any other error — a timed-out operation goes on in the cluster.`,
		Example: `  kubectl ferry sync guestbook
  kubectl ferry sync guestbook --prune --wait
  kubectl ferry sync guestbook --revision v1.2.0 --wait --timeout 10m
  kubectl ferry sync guestbook --dry-run --wait
  kubectl ferry sync guestbook --resource ConfigMap/guestbook-config --resource apps/Deployment/guestbook/frontend`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkWaitFlags(c, f.wait, f.timeout); err != nil {
				return err
			}
			for _, r := range f.resources {
				if _, err := parseSyncResource(r); err != nil {
					return usageError(c, "%v", err)
				}
			}
			return o.sync(c.Context(), args[0], f)
		},
	}
	cmd.Flags().StringVar(&f.revision, "revision", "", "Branch, tag or full commit SHA to sync to (default: the Application's spec.source.revision)")
	cmd.Flags().BoolVar(&f.prune, "prune", false, "Delete objects Ferry applied earlier that are no longer in Git, even when the sync policy does not prune")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "Run the sync as a server-side dry run: nothing in the cluster changes")
	cmd.Flags().StringArrayVar(&f.resources, "resource", nil, "Sync only this object (repeatable): KIND/NAME or GROUP/KIND/NAMESPACE/NAME")
	cmd.Flags().BoolVar(&f.override, "override-sync-windows", false, "Sync although a SyncWindow blocks syncs (needs the verb override on syncwindows)")
	cmd.Flags().BoolVarP(&f.wait, "wait", "w", false, "Wait for the operation to finish and show its progress")
	cmd.Flags().DurationVar(&f.timeout, "timeout", DefaultSyncTimeout, "With --wait, how long to wait before giving up (exit code 2)")
	return cmd
}

func (o *Options) sync(ctx context.Context, name string, f syncFlags) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	apps := client.GitopsV1alpha1().Applications(ns)
	req := &gitopsv1alpha1.ApplicationSync{
		TypeMeta:   metav1.TypeMeta{APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationSync"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       gitopsv1alpha1.ApplicationSyncSpec{Revision: f.revision, Prune: f.prune, DryRun: f.dryRun, OverrideSyncWindows: f.override},
	}
	for _, r := range f.resources {
		res, err := parseSyncResource(r)
		if err != nil {
			return err
		}
		req.Spec.Resources = append(req.Spec.Resources, res)
	}
	resp, err := apps.Sync(ctx, name, req, metav1.CreateOptions{})
	if err != nil {
		return apiError(err, request{verb: "create", subresource: "sync", namespace: ns, name: name})
	}
	id := resp.Status.OperationID
	what := "sync"
	if f.dryRun {
		what = "dry-run sync"
	}
	fmt.Fprintf(o.Out, "%s of %s/%s requested: operation %s (%s)\n", what, ns, name, id, paint(o.Color, string(orPending(resp.Status.Phase))))
	if !f.wait {
		fmt.Fprintf(o.Out, "Follow it with: kubectl ferry status %s -n %s\n", name, ns)
		return nil
	}
	w := &operationWaiter{
		out: o.Out, color: o.Color, now: o.Now,
		apps: apps, namespace: ns, name: name, id: id,
		resourceVersion: resp.Status.ApplicationResourceVersion,
	}
	return w.wait(ctx, f.timeout)
}

// checkWaitFlags refuses a --timeout without --wait, or one that is not positive.
func checkWaitFlags(c *cobra.Command, wait bool, timeout time.Duration) error {
	if c.Flags().Changed("timeout") && !wait {
		return usageError(c, "--timeout needs --wait")
	}
	if timeout <= 0 {
		return usageError(c, "--timeout must be positive, got %s", timeout)
	}
	return nil
}

// parseSyncResource reads --resource: KIND/NAME, or GROUP/KIND/NAMESPACE/NAME.
func parseSyncResource(s string) (gitopsv1alpha1.SyncResource, error) {
	parts := strings.Split(s, "/")
	var r gitopsv1alpha1.SyncResource
	switch len(parts) {
	case 2:
		r = gitopsv1alpha1.SyncResource{Kind: parts[0], Name: parts[1]}
	case 4:
		r = gitopsv1alpha1.SyncResource{Group: parts[0], Kind: parts[1], Namespace: parts[2], Name: parts[3]}
	default:
		return r, fmt.Errorf("--resource %q: want KIND/NAME or GROUP/KIND/NAMESPACE/NAME (GROUP and NAMESPACE may be empty)", s)
	}
	if r.Kind == "" || r.Name == "" {
		return r, fmt.Errorf("--resource %q: KIND and NAME must not be empty", s)
	}
	return r, nil
}

func orPending(p gitopsv1alpha1.OperationPhase) gitopsv1alpha1.OperationPhase {
	if p == "" {
		return gitopsv1alpha1.OperationPending
	}
	return p
}

// operationWaiter follows one operation through watches of its Application.
type operationWaiter struct {
	out             io.Writer
	color           bool
	now             func() time.Time
	apps            typedgitops.ApplicationInterface
	namespace, name string
	id              string
	// resourceVersion is where the next watch starts; empty means read the Application first.
	resourceVersion string

	start       time.Time
	lastPhase   gitopsv1alpha1.OperationPhase
	lastMessage string
}

// operationState is what the Application says of the awaited operation.
type operationState struct {
	phase          gitopsv1alpha1.OperationPhase
	message        string
	syncedRevision string
}

// findOperation looks for operation id in status.operation, then in status.history.
func findOperation(app *gitopsv1alpha1.Application, id string) (operationState, bool) {
	if op := app.Status.Operation; op != nil && op.ID == id {
		return operationState{phase: op.Phase, message: op.Message, syncedRevision: op.SyncedRevision}, true
	}
	for _, h := range app.Status.History {
		if h.ID == id {
			return operationState{phase: h.Phase, message: h.Message, syncedRevision: h.SyncedRevision}, true
		}
	}
	return operationState{}, false
}

// wait returns nil when the operation succeeds, an ExitError with ExitCodeFailed when it fails, and
// one with ExitCodeError on a timeout, an interruption or any other error.
func (w *operationWaiter) wait(ctx context.Context, timeout time.Duration) error {
	w.start = w.now()
	fmt.Fprintf(w.out, "Waiting for operation %s (timeout %s):\n", shortID(w.id), timeout)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := func() error {
		if ctx.Err() != nil {
			return &ExitError{Code: ExitCodeError, Msg: fmt.Sprintf("interrupted while waiting for operation %s", w.id),
				Hint: w.followHint()}
		}
		last := w.lastPhase
		if last == "" {
			last = gitopsv1alpha1.OperationPending
		}
		return &ExitError{Code: ExitCodeError,
			Msg:  fmt.Sprintf("timed out after %s waiting for operation %s of Application %s/%s; it is still %s", timeout, w.id, w.namespace, w.name, last),
			Hint: "The operation goes on in the cluster. " + w.followHint()}
	}
	for {
		if wctx.Err() != nil {
			return done()
		}
		if w.resourceVersion == "" {
			app, err := w.apps.Get(wctx, w.name, metav1.GetOptions{})
			if err != nil {
				if wctx.Err() != nil {
					return done()
				}
				return apiError(err, request{verb: "get", namespace: w.namespace, name: w.name})
			}
			if finished, err := w.observe(app); finished {
				return err
			}
			w.resourceVersion = app.ResourceVersion
		}
		watcher, err := w.apps.Watch(wctx, metav1.ListOptions{
			FieldSelector:       fields.OneTermEqualSelector("metadata.name", w.name).String(),
			ResourceVersion:     w.resourceVersion,
			AllowWatchBookmarks: true,
		})
		if err != nil {
			if wctx.Err() != nil {
				return done()
			}
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				w.resourceVersion = ""
				continue
			}
			return apiError(err, request{verb: "watch", namespace: w.namespace, name: w.name})
		}
		finished, events, err := w.consume(wctx, watcher)
		watcher.Stop()
		if finished {
			return err
		}
		if wctx.Err() != nil {
			return done()
		}
		if events == 0 {
			// The watch ended at once: wait a little before the next one.
			select {
			case <-wctx.Done():
				return done()
			case <-time.After(rewatchDelay):
			}
		}
	}
}

// consume reads one watch until the operation finishes or the watch ends; it reports whether
// the wait is over (and its result) and how many events it read.
func (w *operationWaiter) consume(ctx context.Context, watcher watch.Interface) (bool, int, error) {
	events := 0
	for {
		select {
		case <-ctx.Done():
			return false, events, nil
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return false, events, nil
			}
			events++
			switch ev.Type {
			case watch.Added, watch.Modified:
				app, ok := ev.Object.(*gitopsv1alpha1.Application)
				if !ok {
					continue
				}
				w.resourceVersion = app.ResourceVersion
				if finished, err := w.observe(app); finished {
					return true, events, err
				}
			case watch.Bookmark:
				if m, err := meta.Accessor(ev.Object); err == nil && m.GetResourceVersion() != "" {
					w.resourceVersion = m.GetResourceVersion()
				}
			case watch.Deleted:
				return true, events, &ExitError{Code: ExitCodeError,
					Msg: fmt.Sprintf("Application %s/%s was deleted while operation %s was %s", w.namespace, w.name, w.id, w.lastPhase)}
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					w.resourceVersion = ""
					return false, events, nil
				}
				return true, events, apiError(err, request{verb: "watch", namespace: w.namespace, name: w.name})
			}
		}
	}
}

// observe prints the operation's progress as app shows it and reports whether it finished.
func (w *operationWaiter) observe(app *gitopsv1alpha1.Application) (bool, error) {
	st, ok := findOperation(app, w.id)
	if !ok {
		return true, &ExitError{Code: ExitCodeError,
			Msg:  fmt.Sprintf("operation %s is no longer recorded on Application %s/%s", w.id, w.namespace, w.name),
			Hint: "See its history with: kubectl ferry history " + w.name + " -n " + w.namespace}
	}
	if st.phase != w.lastPhase || st.message != w.lastMessage {
		w.lastPhase, w.lastMessage = st.phase, st.message
		elapsed := w.now().Sub(w.start).Round(100 * time.Millisecond)
		line := fmt.Sprintf("%8s  %s", elapsed, paint(w.color, string(st.phase)))
		if st.message != "" {
			line += "  " + st.message
		}
		fmt.Fprintln(w.out, line)
	}
	switch st.phase {
	case gitopsv1alpha1.OperationSucceeded:
		return true, nil
	case gitopsv1alpha1.OperationFailed:
		msg := st.message
		if msg == "" {
			msg = "(no message)"
		}
		return true, &ExitError{Code: ExitCodeFailed,
			Msg:  fmt.Sprintf("sync of %s/%s failed: %s", w.namespace, w.name, msg),
			Hint: "See the conditions with: kubectl ferry status " + w.name + " -n " + w.namespace}
	}
	return false, nil
}

func (w *operationWaiter) followHint() string {
	return fmt.Sprintf("Follow it with: kubectl ferry status %s -n %s", w.name, w.namespace)
}
