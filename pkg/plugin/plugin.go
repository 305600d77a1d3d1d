// Package plugin implements kubectl-ferry, the kubectl plugin for Ferry's Applications:
//
//	kubectl ferry list [-A]
//	kubectl ferry status APP
//	kubectl ferry sync APP [--revision R] [--prune] [--dry-run] [--wait [--timeout 5m]]
//	kubectl ferry delete APP [--cascade=orphan] [--wait=false] [--timeout 6m]
//	kubectl ferry health APP
//	kubectl ferry history APP
//	kubectl ferry diff APP [--revision R]
//	kubectl ferry manifests APP [--revision R]
//	kubectl ferry appset list [-A]
//	kubectl ferry appset status SET
//	kubectl ferry ui [--port P] [--no-browser]
//
// It takes kubectl's connection flags (--kubeconfig, --context, -n/--namespace, --as, ...) from
// k8s.io/cli-runtime and talks to the gitops.ferry.dev API with the generated typed clientset.
// Human-readable tables by default, -o json|yaml for the API objects. Colour only when stdout is a
// terminal (and NO_COLOR is unset).
//
// Exit codes: 0 success; 1 a sync operation failed, the server refused a sync as conflicting
// (409, an operation is already running), or diff found differences (as kubectl diff does); 2
// usage errors and every other error.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
)

// Exit codes of kubectl-ferry.
const (
	// ExitCodeOK means the command did what it was asked.
	ExitCodeOK = 0
	// ExitCodeFailed means the sync operation finished Failed, or the server refused the sync with 409
	// Conflict (an operation is already pending or running, or the Application is suspended).
	ExitCodeFailed = 1
	// ExitCodeDifferences means diff found objects a sync would change, as kubectl diff's 1.
	ExitCodeDifferences = 1
	// ExitCodeError means a usage error, or any other error (not found, forbidden, unreachable, timeout).
	ExitCodeError = 2
)

// Options is what every command shares: the connection flags, the streams and how to build a
// client. Tests replace NewClient and Namespace.
type Options struct {
	ConfigFlags *genericclioptions.ConfigFlags
	genericiooptions.IOStreams

	// Color enables ANSI colours in tables and progress lines.
	Color bool
	// NewClient builds the Ferry clientset from the connection flags.
	NewClient func() (versioned.Interface, error)
	// Namespace is -n/--namespace, else the kubeconfig context's namespace, else "default".
	Namespace func() (string, error)
	// Now is the clock used for ages.
	Now func() time.Time
}

// NewOptions reads the cluster connection from kubectl's flags and kubeconfig.
func NewOptions(streams genericiooptions.IOStreams) *Options {
	o := &Options{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		IOStreams:   streams,
		Now:         time.Now,
	}
	o.NewClient = func() (versioned.Interface, error) {
		// Without any kubeconfig client-go would try http://localhost:8080; say what is missing
		// instead (unless --server is given or this runs in a pod).
		raw, err := o.ConfigFlags.ToRawKubeConfigLoader().RawConfig()
		if err == nil && len(raw.Clusters) == 0 && *o.ConfigFlags.APIServer == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
			return nil, &ExitError{Code: ExitCodeError, Msg: "no cluster configured: no kubeconfig was found",
				Hint: "Pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config."}
		}
		cfg, err := o.ConfigFlags.ToRESTConfig()
		if err != nil {
			return nil, configError(err)
		}
		c, err := versioned.NewForConfig(FerryClientConfig(cfg))
		if err != nil {
			return nil, configError(err)
		}
		return c, nil
	}
	o.Namespace = func() (string, error) {
		ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return "", configError(err)
		}
		return ns, nil
	}
	return o
}

// Main runs kubectl-ferry with args (without the program name) and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o := NewOptions(genericiooptions.IOStreams{In: stdin, Out: stdout, ErrOut: stderr})
	o.Color = ColorWanted(stdout)
	return Run(ctx, o, args)
}

// Run executes the command line args with o and returns the exit code, having printed any
// error to o.ErrOut.
func Run(ctx context.Context, o *Options, args []string) int {
	cmd := NewCommand(o)
	cmd.SetArgs(args)
	return Report(o.ErrOut, cmd.ExecuteContext(ctx))
}

// NewCommand is the root command, kubectl-ferry, with its subcommands.
func NewCommand(o *Options) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-ferry",
		Short: "Inspect and sync Ferry's GitOps Applications",
		Long: `kubectl ferry inspects and syncs Ferry's GitOps Applications (gitops.ferry.dev/v1alpha1).

It uses kubectl's configuration: --kubeconfig, --context and -n/--namespace work as they do for
kubectl, and the namespace defaults to the current context's.

Exit codes: 0 success (for diff: nothing would change); 1 a sync operation failed, a sync was
refused because another operation is running (409), a refresh was refused (409), or diff found
differences; 2 usage and every
other error.`,
		Example: `  kubectl ferry list -A
  kubectl ferry status guestbook
  kubectl ferry sync guestbook --prune --wait
  kubectl ferry refresh guestbook --wait
  kubectl ferry delete guestbook
  kubectl ferry health guestbook -o yaml
  kubectl ferry history guestbook
  kubectl ferry diff guestbook --revision v1.2.0
  kubectl ferry manifests guestbook
  kubectl ferry appset status guestbook-fleet -n ferry-system
  kubectl ferry version
  kubectl ferry install --dry-run
  kubectl ferry ui`,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl ferry"},
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		Run:           func(cmd *cobra.Command, _ []string) { _ = cmd.Help() },
	}
	o.ConfigFlags.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError(c, "%v", err)
	})
	root.SetIn(o.In)
	root.SetOut(o.Out)
	root.SetErr(o.ErrOut)
	root.AddCommand(
		newListCommand(o),
		newStatusCommand(o),
		newSyncCommand(o),
		newRefreshCommand(o),
		newRollbackCommand(o),
		newResumeCommand(o),
		newDeleteCommand(o),
		newHealthCommand(o),
		newHistoryCommand(o),
		newAlertsCommand(o),
		newDiffCommand(o),
		newPreviewCommand(o),
		newManifestsCommand(o),
		newAppSetCommand(o),
		newVersionCommand(o),
		newInstallCommand(o),
		newUninstallCommand(o),
		newUICommand(o),
	)
	return root
}

// client returns the clientset and the namespace to work in.
func (o *Options) client() (versioned.Interface, string, error) {
	ns, err := o.Namespace()
	if err != nil {
		return nil, "", err
	}
	c, err := o.NewClient()
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// FerryClientConfig is cfg for Ferry's own API: protobuf, which its server speaks and which
// reads a list of 10,000 Applications about three times faster than JSON, and kubectl's own
// client limits rather than client-go's 5 requests a second, which a paged list or the web
// UI's several live pages would wait on.
func FerryClientConfig(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 300
	}
	return cfg
}

// Report prints err (if any) to w the way kubectl does and returns the exit code for it.
func Report(w io.Writer, err error) int {
	if err == nil {
		return ExitCodeOK
	}
	var e *ExitError
	if !errors.As(err, &e) {
		e = &ExitError{Code: ExitCodeError, Msg: err.Error(), Hint: "See 'kubectl ferry --help' for usage."}
	}
	if e.Msg != "" {
		fmt.Fprintf(w, "error: %s\n", e.Msg)
	}
	if e.Hint != "" {
		fmt.Fprintln(w, e.Hint)
	}
	return e.Code
}

// ExitError is an error with the exit code it ends the command with and a hint saying what to
// do next.
type ExitError struct {
	Code int
	Msg  string
	Hint string
}

func (e *ExitError) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + " (" + e.Hint + ")"
}

func usageError(c *cobra.Command, format string, args ...any) error {
	return &ExitError{
		Code: ExitCodeError,
		Msg:  fmt.Sprintf(format, args...),
		Hint: fmt.Sprintf("See '%s --help' for usage.", c.CommandPath()),
	}
}

// noArgs refuses positional arguments, naming the unknown command on the root.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !c.HasParent() {
		return usageError(c, "unknown command %q for %q", args[0], c.CommandPath())
	}
	return usageError(c, "%s takes no arguments, got %q", c.CommandPath(), strings.Join(args, " "))
}

// oneApp requires exactly one argument, the Application's name.
func oneApp(c *cobra.Command, args []string) error {
	switch len(args) {
	case 1:
		if args[0] == "" {
			return usageError(c, "the Application's name is empty")
		}
		return nil
	case 0:
		return usageError(c, "%s needs the Application's name: %s", c.CommandPath(), c.UseLine())
	default:
		return usageError(c, "%s takes one Application, got %d arguments: %s", c.CommandPath(), len(args), strings.Join(args, " "))
	}
}

// addOutputFlag adds -o/--output json|yaml to c.
func addOutputFlag(c *cobra.Command, output *string) {
	c.Flags().StringVarP(output, "output", "o", "", "Output format: json or yaml (the API object); default a human-readable view")
	_ = c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"json", "yaml"}, cobra.ShellCompDirectiveNoFileComp
	})
}

// checkOutput validates -o.
func checkOutput(c *cobra.Command, output string) error {
	switch output {
	case "", "json", "yaml":
		return nil
	}
	return usageError(c, "unsupported output format %q: use -o json or -o yaml", output)
}

// completeApps completes the Application's name from the Applications of the namespace.
func (o *Options) completeApps(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	client, ns, err := o.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	parent := c.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, 5*time.Second)
	defer cancel()
	list, err := client.GitopsV1alpha1().Applications(ns).List(ctx, listOptions())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, app := range list.Items {
		if strings.HasPrefix(app.Name, toComplete) {
			names = append(names, app.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
