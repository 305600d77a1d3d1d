package plugin

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/ferry-gitops/ferry/pkg/ui"
)

type uiFlags struct {
	address   string
	port      int
	noBrowser bool
}

func newUICommand(o *Options) *cobra.Command {
	var f uiFlags
	cmd := &cobra.Command{
		Use:   "ui [--port P] [--no-browser] [-n NAMESPACE]",
		Short: "Serve a web UI of the Applications on 127.0.0.1, acting as you",
		Long: `Serve a web UI of Ferry's Applications on loopback and open it in the default browser.

The UI calls the Kubernetes API with your kubeconfig, exactly like the other commands: it shows
and does what kubectl would let you see and do, and a refusal is shown with the API's message.
It lists the Applications of every namespace (or of -n NAMESPACE) and keeps them live through a
watch; an Application's page shows its sources, destination, policy, conditions, resources and
history, with a Sync button; beside it the diff a sync would apply, the rendered manifests, the
Application's Events and a tree of its objects with the ReplicaSets and Pods they own.

It listens on 127.0.0.1 only. The URL it prints carries a secret that the browser exchanges for a
cookie; without it every request is refused. Stop it with Ctrl-C.`,
		Example: `  kubectl ferry ui
  kubectl ferry ui -n team-a --port 8080 --no-browser`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := ui.LoopbackIP(f.address); err != nil {
				return usageError(c, "%v", err)
			}
			return o.ui(c.Context(), o.ConfigFlags.Namespace != nil && *o.ConfigFlags.Namespace != "", f)
		},
	}
	cmd.Flags().StringVar(&f.address, "address", "127.0.0.1", "Loopback address to listen on (127.0.0.1 or ::1); any other is refused")
	cmd.Flags().IntVar(&f.port, "port", 0, "Port to listen on; 0 picks a free one")
	cmd.Flags().BoolVar(&f.noBrowser, "no-browser", false, "Print the URL without opening a browser")
	return cmd
}

func (o *Options) ui(ctx context.Context, namespaced bool, f uiFlags) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	rest, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return err
	}
	// The pages' live streams and reads share the client's rate limit: kubectl's, not 5 a second.
	rest = FerryClientConfig(rest)
	rest.ContentType, rest.AcceptContentTypes = "", ""
	// Events and the objects under the Application are read with the same kubeconfig.
	kube, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	meta, err := metadata.NewForConfig(rest)
	if err != nil {
		return err
	}
	cfg := ui.Config{Client: client, Kube: kube, Metadata: meta, FallbackNamespace: ns, Now: o.Now}
	if namespaced {
		cfg.Namespace, cfg.FallbackNamespace = ns, ""
	}
	if raw, err := o.ConfigFlags.ToRawKubeConfigLoader().RawConfig(); err == nil {
		cfg.Context = raw.CurrentContext
		if c := o.ConfigFlags.Context; c != nil && *c != "" {
			cfg.Context = *c
		}
	}
	srv, err := ui.New(cfg)
	if err != nil {
		return err
	}
	l, err := ui.Listen(f.address, f.port)
	if err != nil {
		return &ExitError{Code: ExitCodeError, Msg: err.Error()}
	}
	defer l.Close()
	// A first call tells at once whether the API answers at all (it does not need to succeed:
	// a 403 is shown in the page).
	if _, err := client.GitopsV1alpha1().Applications(cfg.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil && !apierrors.IsForbidden(err) {
		return apiError(err, request{verb: "list", namespace: cfg.Namespace})
	}
	url := srv.URL(l.Addr())
	fmt.Fprintf(o.Out, "Ferry UI: %s\n", url)
	fmt.Fprintln(o.ErrOut, "It acts as you with your kubeconfig, on loopback only; the URL carries a secret, keep it to yourself. Ctrl-C stops it.")
	if !f.noBrowser {
		if err := openBrowser(url); err != nil {
			fmt.Fprintf(o.ErrOut, "Could not open a browser (%v); open the URL above yourself.\n", err)
		}
	}
	return srv.Serve(ctx, l)
}

// openBrowser asks the desktop to open url; having none is not an error of the UI.
func openBrowser(url string) error {
	name := "xdg-open"
	if runtime.GOOS == "darwin" {
		name = "open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s not found", name)
	}
	cmd := exec.Command(path, url)
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
