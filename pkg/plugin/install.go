package plugin

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/install"
	"github.com/ferry-gitops/ferry/pkg/version"
)

type installFlags struct {
	etcd                          string
	etcdServers                   []string
	etcdCAFile, etcdCert, etcdKey string
	image, version                string
	replicas                      int32
	storageSize                   string
	export, dryRun, wait          bool
	timeout                       time.Duration
}

func newInstallCommand(o *Options) *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "install [--etcd=embedded | --etcd-servers=URL,...] [--export | --dry-run]",
		Short: "Install or upgrade Ferry in the cluster",
		Long: `Install Ferry in the cluster, or upgrade it in place: the namespace ferry-system, the ServiceAccount,
RBAC, the Service, a serving certificate (the Secret ferry-apiserver-tls, from a CA of this
installation's own) with the APIService's matching caBundle, and the server.

--etcd=embedded (the default) runs the server as a StatefulSet of one keeping its etcd on a
PersistentVolumeClaim: nothing else to run, for small clusters. --etcd-servers runs two replicas
(--replicas) against an etcd cluster you run, with --etcd-ca-file, --etcd-cert-file and
--etcd-key-file stored in the Secret ferry-etcd-client for TLS to it.

Objects are applied with server-side apply as field manager ferry-install, so running install again
upgrades in place; an existing serving certificate is kept while it has more than 90 days left.
Then install waits for the APIService to be Available. --dry-run has the server check every object
without storing any; --export prints the manifests instead, holding no private key: the server
then makes its certificate itself at its first start (--serving-cert-secret), so the output can go
into Git as it is.`,
		Example: `  kubectl ferry install
  kubectl ferry install --dry-run
  kubectl ferry install --export > ferry.yaml
  kubectl ferry install --etcd-servers=https://etcd-0.etcd:2379,https://etcd-1.etcd:2379 \
      --etcd-ca-file=ca.crt --etcd-cert-file=client.crt --etcd-key-file=client.key
  kubectl ferry install --image=registry.example.com/ferry-apiserver:v0.3.0`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.install(c.Context(), c, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.etcd, "etcd", install.EtcdEmbedded, "Where Applications are stored: embedded (an etcd inside the server, on a PersistentVolumeClaim); with --etcd-servers, your etcd cluster")
	fl.StringSliceVar(&f.etcdServers, "etcd-servers", nil, "Client URLs of your etcd cluster (https://host:2379,...): the server runs as a Deployment of --replicas")
	fl.StringVar(&f.etcdCAFile, "etcd-ca-file", "", "PEM file of the CA that signed your etcd's serving certificates")
	fl.StringVar(&f.etcdCert, "etcd-cert-file", "", "PEM file of a client certificate for your etcd")
	fl.StringVar(&f.etcdKey, "etcd-key-file", "", "PEM file of the client certificate's key")
	fl.StringVar(&f.image, "image", "", "The server's image; default "+install.DefaultImageRepository+":<--version>")
	fl.StringVar(&f.version, "version", "", "The version to install, as the image's tag; default this plugin's own version")
	fl.Int32Var(&f.replicas, "replicas", 2, "Replicas of the server with --etcd-servers (one leads the controller)")
	fl.StringVar(&f.storageSize, "storage-size", "10Gi", "Size of the PersistentVolumeClaim of the embedded etcd")
	fl.BoolVar(&f.export, "export", false, "Print the manifests (YAML) instead of applying them")
	fl.BoolVar(&f.dryRun, "dry-run", false, "Have the server validate every object without storing any, and say what would change")
	fl.BoolVar(&f.wait, "wait", true, "Wait for the APIService to be Available")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "How long to wait for the APIService")
	return cmd
}

// installOptions turns the flags into the installer's options, reading the etcd files.
func (f *installFlags) installOptions(c *cobra.Command) (install.Options, error) {
	opts := install.Options{EtcdServers: f.etcdServers, Replicas: f.replicas, StorageSize: f.storageSize}
	switch {
	case f.etcd == install.EtcdEmbedded && len(f.etcdServers) == 0:
	case f.etcd == install.EtcdEmbedded && c.Flags().Changed("etcd"):
		return opts, usageError(c, "--etcd=embedded and --etcd-servers exclude each other")
	case f.etcd == install.EtcdEmbedded, f.etcd == install.EtcdExternal && len(f.etcdServers) > 0:
	case f.etcd == install.EtcdExternal:
		return opts, usageError(c, "--etcd=external needs --etcd-servers")
	default:
		return opts, usageError(c, "--etcd=%q: use embedded, or give --etcd-servers", f.etcd)
	}
	if err := install.ValidateEtcdServers(f.etcdServers); err != nil {
		return opts, usageError(c, "%v", err)
	}
	if f.replicas < 1 {
		return opts, usageError(c, "--replicas must be at least 1")
	}
	opts.Image = f.image
	if opts.Image == "" {
		v := f.version
		if v == "" && version.Released() {
			v = version.Get().Version
		}
		if v == "" {
			return opts, usageError(c, "this kubectl-ferry was built from source, not released: give --version (an image tag of %s) or --image (such as the one make image built)", install.DefaultImageRepository)
		}
		opts.Image = install.DefaultImageRepository + ":" + v
	}
	for file, into := range map[string]*[]byte{f.etcdCAFile: &opts.EtcdCA, f.etcdCert: &opts.EtcdCert, f.etcdKey: &opts.EtcdKey} {
		if file == "" {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return opts, fmt.Errorf("reading %s: %w", file, err)
		}
		*into = data
	}
	return opts, nil
}

func (o *Options) install(ctx context.Context, c *cobra.Command, f *installFlags) error {
	if f.export && f.dryRun {
		return usageError(c, "--export and --dry-run exclude each other")
	}
	opts, err := f.installOptions(c)
	if err != nil {
		return err
	}
	if f.export {
		opts.ServerMakesCert = true
		objs, err := install.Render(opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "# Ferry %s, etcd %s: kubectl ferry install --export\n", opts.Image, opts.Mode())
		return install.WriteYAML(o.Out, objs)
	}
	cluster, core, err := o.installCluster()
	if err != nil {
		return err
	}
	step := func(format string, args ...any) { fmt.Fprintf(o.Out, ">>> "+format+"\n", args...) }
	step("installing %s with etcd %s into namespace %s%s", opts.Image, opts.Mode(), install.Namespace, map[bool]string{true: " (dry run: nothing is stored)"}[f.dryRun])
	existing, err := core.CoreV1().Secrets(install.Namespace).Get(ctx, install.ServingSecret, metav1.GetOptions{})
	switch {
	case err == nil:
		if opts.Serving, err = install.ServingCertFromSecret(existing.Data, time.Now()); err == nil {
			step("keeping the serving certificate of Secret %s/%s", install.Namespace, install.ServingSecret)
		} else {
			step("replacing the serving certificate of Secret %s/%s: %v", install.Namespace, install.ServingSecret, err)
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("reading Secret %s/%s: %w", install.Namespace, install.ServingSecret, err)
	}
	if len(opts.Serving.Cert) == 0 {
		if opts.Serving, err = install.NewServingCert(); err != nil {
			return err
		}
		step("made a serving certificate for %s", install.ServiceDNSName)
	}
	objs, err := install.Render(opts)
	if err != nil {
		return err
	}
	step("applying %d objects (server-side apply, field manager %s)", len(objs), install.FieldManager)
	if err := cluster.Apply(ctx, objs, f.dryRun); err != nil {
		return err
	}
	if f.dryRun {
		step("dry run passed: run without --dry-run to install")
		return nil
	}
	if f.wait {
		step("waiting up to %s for the APIService to be Available", f.timeout)
		if err := cluster.WaitAvailable(ctx, f.timeout); err != nil {
			return err
		}
	}
	step("Ferry is installed: kubectl get applications -A")
	return nil
}

// installCluster connects to the cluster of kubectl's flags.
func (o *Options) installCluster() (install.Cluster, kubernetes.Interface, error) {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return install.Cluster{}, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return install.Cluster{}, nil, err
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return install.Cluster{}, nil, err
	}
	mapper, err := o.ConfigFlags.ToRESTMapper()
	if err != nil {
		return install.Cluster{}, nil, err
	}
	return install.Cluster{Dynamic: dyn, Mapper: mapper, Out: o.Out}, core, nil
}

func newUninstallCommand(o *Options) *cobra.Command {
	var applications string
	var dryRun bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "uninstall --applications=delete|orphan [--dry-run]",
		Short: "Remove Ferry from the cluster",
		Long: `Remove what kubectl ferry install created: the APIService first, then the server, its Secrets, RBAC
and the namespace ferry-system (with the embedded etcd's PersistentVolumeClaim).

While Applications exist, uninstall refuses unless told what to do with them:
--applications=delete deletes every Application first, which prunes what each deployed, and waits
for them to be gone; --applications=orphan leaves what they deployed in the cluster, unmanaged,
and drops the Applications with Ferry's storage. --dry-run says what would be deleted.`,
		Example: `  kubectl ferry uninstall --dry-run --applications=orphan
  kubectl ferry uninstall --applications=delete`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return o.uninstall(c.Context(), c, applications, dryRun, timeout)
		},
	}
	cmd.Flags().StringVar(&applications, "applications", "", "What to do with existing Applications: delete (pruning what they deployed) or orphan (leaving it)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "Say what would be deleted, deleting nothing")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "How long to wait for deleted Applications to be gone")
	return cmd
}

func (o *Options) uninstall(ctx context.Context, c *cobra.Command, applications string, dryRun bool, timeout time.Duration) error {
	switch applications {
	case "", "delete", "orphan":
	default:
		return usageError(c, "--applications=%q: use delete or orphan", applications)
	}
	client, err := o.NewClient()
	if err != nil {
		return err
	}
	apps, err := client.GitopsV1alpha1().Applications(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !isNotServed(err) {
		return fmt.Errorf("listing Applications: %w", err)
	}
	n := 0
	if err == nil {
		n = len(apps.Items)
	}
	if n > 0 && applications == "" {
		return fmt.Errorf("%d Applications exist (kubectl get applications -A): say what to do with them with --applications=delete (delete them, pruning what they deployed) or --applications=orphan (leave what they deployed)", n)
	}
	step := func(format string, args ...any) { fmt.Fprintf(o.Out, ">>> "+format+"\n", args...) }
	if n > 0 && applications == "delete" {
		step("deleting %d Applications, which prunes what they deployed%s", n, map[bool]string{true: " (dry run)"}[dryRun])
		opts := metav1.DeleteOptions{}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		for _, app := range apps.Items {
			if err := client.GitopsV1alpha1().Applications(app.Namespace).Delete(ctx, app.Name, opts); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting Application %s/%s: %w", app.Namespace, app.Name, err)
			}
		}
		if !dryRun {
			if err := o.waitNoApplications(ctx, timeout); err != nil {
				return err
			}
		}
	} else if n > 0 {
		step("leaving what %d Applications deployed in place, unmanaged", n)
	}
	cluster, _, err := o.installCluster()
	if err != nil {
		return err
	}
	// The objects of either mode: what does not exist is said to be gone already.
	objs, err := install.AllObjects()
	if err != nil {
		return err
	}
	step("deleting Ferry's objects%s", map[bool]string{true: " (dry run)"}[dryRun])
	if err := cluster.Delete(ctx, objs, dryRun); err != nil {
		return err
	}
	if !dryRun {
		step("Ferry is uninstalled")
	}
	return nil
}

func (o *Options) waitNoApplications(ctx context.Context, timeout time.Duration) error {
	client, err := o.NewClient()
	if err != nil {
		return err
	}
	left := 0
	err = wait.PollUntilContextTimeout(ctx, 2*time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		apps, err := client.GitopsV1alpha1().Applications(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, fmt.Errorf("listing Applications: %w", err)
		}
		if left = len(apps.Items); left > 0 {
			fmt.Fprintf(o.Out, "    %d Applications left\n", left)
		}
		return left == 0, nil
	})
	if err != nil && left > 0 {
		return fmt.Errorf("%d Applications are still being deleted after %s (kubectl get applications -A shows why); run uninstall again once they are gone", left, timeout)
	}
	return err
}

// isNotServed: Ferry's API is not there (not installed, or its server down).
func isNotServed(err error) bool {
	return apierrors.IsServiceUnavailable(err) || apiMissing(err)
}
