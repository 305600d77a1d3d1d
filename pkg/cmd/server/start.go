// Package server holds ferry-apiserver's command line: options, their validation, and running the
// server with an embedded or an external etcd.
package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	goruntime "runtime"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	basecompatibility "k8s.io/component-base/compatibility"
	componentbaseconfig "k8s.io/component-base/config"
	componentbaseoptions "k8s.io/component-base/config/options"
	baseversion "k8s.io/component-base/version"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/controller/leader"
	"github.com/ferry-gitops/ferry/pkg/controller/manager"
	"github.com/ferry-gitops/ferry/pkg/embeddedetcd"
	ferryopenapi "github.com/ferry-gitops/ferry/pkg/generated/openapi"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
	"github.com/ferry-gitops/ferry/pkg/version"
)

// etcdPathPrefix is where Ferry's objects live in etcd.
const etcdPathPrefix = "/registry/gitops.ferry.dev"

// DefaultAlternateDNS are the names the self-signed serving certificate carries besides
// localhost: the aggregator verifies the certificate against <service>.<namespace>.svc.
var DefaultAlternateDNS = []string{
	"ferry-apiserver.ferry-system.svc",
	"ferry-apiserver.ferry-system.svc.cluster.local",
}

// Options are everything ferry-apiserver can be told on its command line.
type Options struct {
	RecommendedOptions       *genericoptions.RecommendedOptions
	ComponentGlobalsRegistry basecompatibility.ComponentGlobalsRegistry

	// DataDir holds the embedded etcd's data when no --etcd-servers are given.
	DataDir string
	// EmbeddedEtcdUnsafeNoFsync trades durability for speed in tests.
	EmbeddedEtcdUnsafeNoFsync bool
	// EmbeddedEtcdLogLevel is the embedded etcd's own log level.
	EmbeddedEtcdLogLevel string
	// AllowFileRepositories admits file:// repository URLs.
	AllowFileRepositories bool
	// EgressDenyCIDRs and EgressAllowCIDRs are the egress policy of every Git, chart and OCI
	// fetch (egress.Policy): an allowed range wins over a denied one.
	EgressDenyCIDRs  []string
	EgressAllowCIDRs []string
	// NotificationAllowedCIDRs are the loopback, link-local or metadata ranges AlertProviders
	// may deliver to nonetheless (notify.Policy); empty admits none of them.
	NotificationAllowedCIDRs []string
	// DefaultServiceAccount is the ServiceAccount of its own namespace an Application naming
	// none acts as.
	DefaultServiceAccount string
	// PrivilegedNamespaces hold Applications that, naming no ServiceAccount, act as
	// PrivilegedServiceAccount.
	PrivilegedNamespaces []string
	// PrivilegedServiceAccount (namespace/name) is what privileged Applications act as; empty
	// is Ferry's own identity.
	PrivilegedServiceAccount string
	// ClusterCredentialsNamespace is Ferry's own namespace, where the credentials Secrets of
	// Clusters live; ClusterProbeInterval is how often each Cluster is probed.
	ClusterCredentialsNamespace string
	ClusterProbeInterval        time.Duration
	// AlternateDNS are extra names of the self-signed serving certificate.
	AlternateDNS []string
	// ShutdownWatchTerminationGracePeriod bounds how long shutdown waits for open watches.
	ShutdownWatchTerminationGracePeriod time.Duration

	// Controller settings.
	EnableController  bool
	TargetKubeconfig  string
	ControllerWorkers int
	// ApplicationSetWorkers and ClusterWorkers are how many ApplicationSets and Clusters their
	// controllers reconcile at once (ControllerWorkers: Applications).
	ApplicationSetWorkers int
	ClusterWorkers        int
	// FinalizerTimeout bounds how long a deleted Application waits for its objects to be pruned.
	FinalizerTimeout time.Duration
	// WebhookBindAddress is where Receivers' webhooks are served; empty serves none.
	WebhookBindAddress string
	// KubeAPIQPS and KubeAPIBurst limit the controller's requests to the target cluster.
	KubeAPIQPS   float32
	KubeAPIBurst int
	GitCacheDir  string
	GitTimeout   time.Duration
	// MaxConcurrentDiffs bounds the GET .../diff comparisons running at once.
	MaxConcurrentDiffs int
	// MaxConcurrentReadRenders bounds the renders GET .../diff and .../manifests start at once,
	// so that reads never hold every render worker the controller needs.
	MaxConcurrentReadRenders int
	// GitMaxRepositorySize and GitCacheMaxSize are quantities (defaults 1Gi and 10Gi) bounding one cached
	// repository and the whole cache; GitCacheUnusedGracePeriod is how long a repository no
	// Application uses stays cached.
	GitMaxRepositorySize      string
	GitCacheMaxSize           string
	GitCacheUnusedGracePeriod time.Duration
	AllowRemoteBases          bool
	// Shards is --shards: "1" (one active controller), a number of shards, or "auto".
	Shards string
	// RenderWorkers is how many renders run at once, each in a confined child process of this
	// binary (no network, no files, no programs); at least 1.
	RenderWorkers int
	// RenderWorkerCommand is the program and first arguments of a render worker; default: this
	// executable and worker.Subcommand. Not a flag: tests that run the server in their own
	// process set their test binary, which answers worker.Subcommand (worker.RunIfAsked).
	RenderWorkerCommand []string
	// RenderTimeout and RenderMemoryLimit bound one kustomize build.
	RenderTimeout     time.Duration
	RenderMemoryLimit string
	// Render replaces the controller's renderer; no flag sets it. Tests use it to make one
	// Application's render misbehave.
	Render engine.RenderFunc

	// ServingCert lets the server keep its certificate in a Secret (--serving-cert-secret).
	ServingCert ServingCertOptions

	// LeaderElection elects the one replica whose controller runs, with the flags every
	// Kubernetes controller manager has (--leader-elect, --leader-elect-resource-namespace, ...).
	LeaderElection componentbaseconfig.LeaderElectionConfiguration

	StdOut io.Writer
	StdErr io.Writer
}

// NewOptions returns the defaults: secure serving with a self-signed certificate, delegated
// authentication and authorisation, and an embedded etcd.
func NewOptions(out, errOut io.Writer) *Options {
	o := &Options{
		RecommendedOptions: genericoptions.NewRecommendedOptions(
			etcdPathPrefix,
			apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion),
		),
		ComponentGlobalsRegistry: compatibility.DefaultComponentGlobalsRegistry,
		DataDir:                  "ferry-data",
		EmbeddedEtcdLogLevel:     "warn",
		AlternateDNS:             DefaultAlternateDNS,
		// Without it, shutdown waits the whole request timeout (60s) for the watches that
		// kube-controller-manager and other clients hold through the aggregator.
		ShutdownWatchTerminationGracePeriod: 5 * time.Second,
		EnableController:                    true,
		ControllerWorkers:                   4,
		ApplicationSetWorkers:               2,
		ClusterWorkers:                      4,
		FinalizerTimeout:                    manager.DefaultFinalizerTimeout,
		KubeAPIQPS:                          1000,
		KubeAPIBurst:                        2000,
		GitTimeout:                          2 * time.Minute,
		EgressDenyCIDRs:                     append([]string(nil), egress.DefaultDenyCIDRs...),
		MaxConcurrentDiffs:                  application.DefaultMaxConcurrentDiffs,
		GitMaxRepositorySize:                "1Gi",
		GitCacheMaxSize:                     "10Gi",
		GitCacheUnusedGracePeriod:           time.Hour,
		RenderWorkers:                       goruntime.GOMAXPROCS(0),
		RenderTimeout:                       time.Minute,
		RenderMemoryLimit:                   "1Gi",
		DefaultServiceAccount:               "default",
		PrivilegedNamespaces:                []string{"ferry-system"},
		PrivilegedServiceAccount:            "ferry-system/ferry-admin",
		ClusterCredentialsNamespace:         "ferry-system",
		Shards:                              "1",
		ServingCert:                         ServingCertOptions{APIService: "v1alpha1." + v1alpha1.GroupName},
		ClusterProbeInterval:                30 * time.Second,
		LeaderElection: componentbaseconfig.LeaderElectionConfiguration{
			LeaderElect:       true,
			LeaseDuration:     metav1.Duration{Duration: leader.DefaultLeaseDuration},
			RenewDeadline:     metav1.Duration{Duration: leader.DefaultRenewDeadline},
			RetryPeriod:       metav1.Duration{Duration: leader.DefaultRetryPeriod},
			ResourceLock:      "leases",
			ResourceName:      leader.DefaultLeaseName,
			ResourceNamespace: leader.DefaultNamespace,
		},
		StdOut: out,
		StdErr: errOut,
	}
	_, _ = o.ComponentGlobalsRegistry.ComponentGlobalsOrRegister(basecompatibility.DefaultKubeComponent,
		basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", ""), utilfeature.DefaultMutableFeatureGate)
	enableResourceQuota(o.RecommendedOptions)
	// Pin the storage version, so a later served version never changes what is in etcd unasked.
	o.RecommendedOptions.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(
		v1alpha1.SchemeGroupVersion, schema.GroupKind{Group: v1alpha1.GroupName})
	// Store protobuf, as kube-apiserver does for its own types: smaller in etcd and faster to
	// decode. Objects written as JSON earlier stay readable.
	o.RecommendedOptions.Etcd.DefaultStorageMediaType = runtime.ContentTypeProtobuf
	return o
}

// AddFlags adds Ferry's own flags; the generic ones come from RecommendedOptions.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.ServingCert.AddFlags(fs)
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir,
		"Directory of the embedded etcd, used when --etcd-servers is empty. Created when missing and reused across restarts.")
	fs.BoolVar(&o.EmbeddedEtcdUnsafeNoFsync, "embedded-etcd-unsafe-no-fsync", o.EmbeddedEtcdUnsafeNoFsync,
		"Skip fsync in the embedded etcd. Faster, but a power cut loses recent writes. For tests only.")
	fs.StringVar(&o.EmbeddedEtcdLogLevel, "embedded-etcd-log-level", o.EmbeddedEtcdLogLevel,
		"Log level of the embedded etcd: debug, info, warn, error, panic or fatal.")
	fs.StringVar(&o.DefaultServiceAccount, "default-service-account", o.DefaultServiceAccount,
		"the ServiceAccount, in its own namespace, that an Application naming no spec.serviceAccountName acts as for every request "+
			"(apply, dry run, prune, reads); creating such an Application requires impersonate on it")
	fs.StringSliceVar(&o.PrivilegedNamespaces, "privileged-namespaces", o.PrivilegedNamespaces,
		"namespaces whose Applications, naming no ServiceAccount, act as --privileged-service-account: for platform admins; "+
			"whoever may write Applications there has that ServiceAccount's power")
	fs.StringVar(&o.PrivilegedServiceAccount, "privileged-service-account", o.PrivilegedServiceAccount,
		"namespace/name of the ServiceAccount that Applications of --privileged-namespaces naming none act as (impersonated; "+
			"the installation binds ferry-system/ferry-admin to cluster-admin). Empty: Ferry's own identity, which the installation grants no writes")
	fs.StringVar(&o.ClusterCredentialsNamespace, "cluster-credentials-namespace", o.ClusterCredentialsNamespace,
		"Namespace of the Secrets that Clusters name in spec.credentialsRef: Ferry's own. Registering a Cluster requires get on its Secret there.")
	fs.DurationVar(&o.ClusterProbeInterval, "cluster-probe-interval", o.ClusterProbeInterval,
		"How often Ferry probes each Cluster (its /version, with its credentials) besides on every change of it or its Secret.")
	fs.BoolVar(&o.AllowFileRepositories, "allow-file-repositories", o.AllowFileRepositories,
		"Accept file:// repository URLs in spec.source.repoURL. They read the server's own disk, so keep this off unless every Application author may read it.")
	fs.StringSliceVar(&o.EgressDenyCIDRs, "egress-deny-cidrs", o.EgressDenyCIDRs,
		"Address ranges (CIDRs or addresses) no Git, Helm chart or OCI fetch may connect to, checked on the address connected to (after DNS, at every redirect). "+
			"The default denies loopback, unspecified and link-local addresses and the cloud metadata services.")
	fs.StringSliceVar(&o.EgressAllowCIDRs, "egress-allow-cidrs", o.EgressAllowCIDRs,
		"Address ranges fetches may connect to even when --egress-deny-cidrs holds them (127.0.0.1/32 for a Git server on the same host).")
	fs.StringSliceVar(&o.NotificationAllowedCIDRs, "notification-allowed-cidrs", o.NotificationAllowedCIDRs,
		"Address ranges AlertProviders may deliver to although they are loopback, link-local, unspecified or cloud metadata addresses, "+
			"which are otherwise refused when an AlertProvider is written and at every connection (127.0.0.0/8 for a test sink on the same host).")
	fs.DurationVar(&o.ShutdownWatchTerminationGracePeriod, "shutdown-watch-termination-grace-period", o.ShutdownWatchTerminationGracePeriod,
		"How long shutdown waits for open watches to drain before closing them. 0 waits for the full request timeout.")
	fs.BoolVar(&o.EnableController, "controller", o.EnableController,
		"Run the controller that syncs Applications. Off, the server only serves the API.")
	fs.StringVar(&o.TargetKubeconfig, "target-kubeconfig", o.TargetKubeconfig,
		"Kubeconfig of the cluster Applications deploy into. Default: --kubeconfig, else the in-cluster configuration.")
	fs.StringVar(&o.Shards, "shards", o.Shards,
		"How the replicas divide the Applications, by destination cluster: 1 makes the leader reconcile them all; N > 1 makes N shards, each held by one replica through a Lease "+
			"(ferry-shard-<i>, next to the leader Lease); auto makes one shard per live replica. Clusters are assigned to shards by consistent hashing with bounded loads.")
	fs.IntVar(&o.ControllerWorkers, "controller-workers", o.ControllerWorkers,
		"How many Applications are reconciled at once.")
	fs.IntVar(&o.ApplicationSetWorkers, "applicationset-workers", o.ApplicationSetWorkers,
		"How many ApplicationSets generate their Applications at once.")
	fs.IntVar(&o.ClusterWorkers, "cluster-workers", o.ClusterWorkers,
		"How many Clusters are probed at once; one Cluster is never probed twice at once, so an unreachable one waiting for its timeout holds back only itself.")
	fs.DurationVar(&o.FinalizerTimeout, "finalizer-timeout", o.FinalizerTimeout,
		"How long a deleted Application waits for its objects to be pruned when pruning fails for a reason a retry may cure (its cluster unreachable, the API failing). "+
			"After it the Application goes anyway, with a Warning Event naming each object not deleted. Objects its identity may not delete never hold it.")
	fs.StringVar(&o.WebhookBindAddress, "webhook-bind-address", o.WebhookBindAddress,
		"host:port of the listener for Git hosts' push webhooks (Receivers), e.g. :9443; plain HTTP, meant to sit behind a TLS-terminating Ingress. "+
			"Empty (the default) serves none. Each delivery is checked against its Receiver's signature before it is read.")
	fs.Float32Var(&o.KubeAPIQPS, "kube-api-qps", o.KubeAPIQPS,
		"Requests per second the controller and the read subresources may send to the target cluster; every object synced costs a dry run and an apply. The target's API Priority and Fairness still applies.")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", o.KubeAPIBurst,
		"Burst of requests to the target cluster above --kube-api-qps.")
	fs.IntVar(&o.MaxConcurrentReadRenders, "max-concurrent-read-renders", o.MaxConcurrentReadRenders,
		"How many renders GET .../diff and .../manifests start at once in this replica (reads of a revision already rendered need none). More wait up to half their time, then get 429 with a Retry-After. Default (0): half the render workers, at least 1, so reads never hold every worker the controller needs.")
	fs.IntVar(&o.MaxConcurrentDiffs, "max-concurrent-diffs", o.MaxConcurrentDiffs,
		"How many GET .../diff comparisons with the cluster (server-side dry runs) run at once in this replica. More wait up to half their time, then get 429 with a Retry-After.")
	fs.StringVar(&o.GitCacheDir, "git-cache-dir", o.GitCacheDir,
		"Directory of the shared Git repository cache. Default: <data-dir>/git.")
	fs.DurationVar(&o.GitTimeout, "git-timeout", o.GitTimeout,
		"Time limit of one Git ref listing or fetch.")
	fs.StringVar(&o.GitMaxRepositorySize, "git-max-repository-size", o.GitMaxRepositorySize,
		"Largest repository the Git cache holds (a quantity: 512Mi, 2Gi). A fetch is stopped at its first write past it and nothing of it is kept.")
	fs.StringVar(&o.GitCacheMaxSize, "git-cache-max-size", o.GitCacheMaxSize,
		"Size of the whole Git cache past which the least recently used repositories are removed (a quantity; 0 for no cap).")
	fs.DurationVar(&o.GitCacheUnusedGracePeriod, "git-cache-unused-grace-period", o.GitCacheUnusedGracePeriod,
		"How long a repository no Application uses stays in the Git cache.")
	fs.BoolVar(&o.AllowRemoteBases, "allow-remote-bases", o.AllowRemoteBases,
		"Let kustomizations refer to remote bases and URLs. Off by default: a remote base is code fetched from wherever its author chose.")
	fs.IntVar(&o.RenderWorkers, "render-workers", o.RenderWorkers,
		"How many renders (kustomize builds, Helm charts, ApplicationSet templates) run at once, each in a child process of ferry-apiserver that can open no socket, no file and no program (seccomp), and is stopped when it passes --render-timeout or --render-memory-limit. Default: the CPUs; at least 1.")
	fs.DurationVar(&o.RenderTimeout, "render-timeout", o.RenderTimeout,
		"Time limit of one kustomize build.")
	fs.StringVar(&o.RenderMemoryLimit, "render-memory-limit", o.RenderMemoryLimit,
		"Memory one kustomize build may use (a quantity: 512Mi, 2Gi).")
	componentbaseoptions.BindLeaderElectionFlags(&o.LeaderElection, fs)
	// The namespace flag of earlier releases, kept working.
	fs.StringVar(&o.LeaderElection.ResourceNamespace, "leader-elect-namespace", o.LeaderElection.ResourceNamespace, "")
	_ = fs.MarkDeprecated("leader-elect-namespace", "use --leader-elect-resource-namespace")
	fs.StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS,
		"Extra DNS names of the self-signed serving certificate made when no --tls-cert-file is given.")
}

// shards reads --shards into manager.Config.Shards.
func (o *Options) shards() (int, error) {
	if o.Shards == "auto" {
		return manager.ShardsAuto, nil
	}
	n, err := strconv.Atoi(o.Shards)
	if err != nil || n < 1 || n > 1024 {
		return 0, fmt.Errorf("--shards %q: want a number of shards from 1 to 1024, or auto", o.Shards)
	}
	return n, nil
}

// EmbeddedEtcd reports whether the server runs its own etcd.
func (o *Options) EmbeddedEtcd() bool {
	return len(o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList) == 0
}

// Complete fills in what other options imply.
func (o *Options) Complete() error {
	return nil
}

// Validate checks every option and reports all problems at once.
func (o *Options) Validate() error {
	var errs []error
	errs = append(errs, o.validateIdentities()...)
	errs = append(errs, o.validateServingCert()...)
	errs = append(errs, o.validateGeneric()...)
	errs = append(errs, o.validateController()...)
	errs = append(errs, o.validateLeaderElection()...)
	return utilerrors.NewAggregate(errs)
}

// validateIdentities checks whom Applications act as, and where Clusters' credentials and the
// shards' settings come from.
func (o *Options) validateIdentities() []error {
	var errs []error
	if msgs := validation.IsDNS1123Subdomain(o.DefaultServiceAccount); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--default-service-account %q is not a ServiceAccount name: %s (there is no way to make Applications act as Ferry outside --privileged-namespaces)",
			o.DefaultServiceAccount, strings.Join(msgs, "; ")))
	}
	if msgs := validation.IsDNS1123Label(o.ClusterCredentialsNamespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--cluster-credentials-namespace %q is not a namespace name: %s", o.ClusterCredentialsNamespace, strings.Join(msgs, "; ")))
	}
	if _, err := o.shards(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.privilegedUser(); err != nil {
		errs = append(errs, err)
	}
	for _, ns := range o.PrivilegedNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--privileged-namespaces: %q is not a namespace name: %s", ns, strings.Join(msgs, "; ")))
		}
	}
	return errs
}

// validateGeneric checks the options every aggregated API server has, and etcd's.
func (o *Options) validateGeneric() []error {
	var errs []error
	ro := o.RecommendedOptions
	if o.EmbeddedEtcd() {
		if o.DataDir == "" {
			errs = append(errs, fmt.Errorf("--data-dir must be set when --etcd-servers is empty (the embedded etcd keeps its data there)"))
		}
		// The external-etcd checks would insist on --etcd-servers; check a copy that names the
		// embedded etcd instead.
		etcd := *ro.Etcd
		etcd.StorageConfig.Transport.ServerList = []string{"http://127.0.0.1:0"}
		errs = append(errs, etcd.Validate()...)
	} else {
		errs = append(errs, validateEtcdServers(ro.Etcd.StorageConfig.Transport.ServerList)...)
		errs = append(errs, ro.Etcd.Validate()...)
	}
	errs = append(errs, ro.SecureServing.Validate()...)
	errs = append(errs, ro.Authentication.Validate()...)
	errs = append(errs, ro.Authorization.Validate()...)
	errs = append(errs, ro.Audit.Validate()...)
	errs = append(errs, ro.Features.Validate()...)
	errs = append(errs, ro.CoreAPI.Validate()...)
	errs = append(errs, ro.Admission.Validate()...)
	errs = append(errs, ro.EgressSelector.Validate()...)
	errs = append(errs, ro.Traces.Validate()...)
	errs = append(errs, o.ComponentGlobalsRegistry.Validate()...)
	return errs
}

// validateController checks the controllers' settings: workers, renders, the Git cache, reads,
// egress and notifications, the webhook listener.
func (o *Options) validateController() []error {
	var errs []error
	if o.FinalizerTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--finalizer-timeout %s: must be positive", o.FinalizerTimeout))
	}
	if a := o.WebhookBindAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("--webhook-bind-address %q: want host:port, such as :9443: %w", a, err))
		}
	}
	if o.ClusterProbeInterval < time.Second {
		errs = append(errs, fmt.Errorf("--cluster-probe-interval %s is below 1s", o.ClusterProbeInterval))
	}
	if _, err := egress.New(o.EgressDenyCIDRs, o.EgressAllowCIDRs); err != nil {
		errs = append(errs, fmt.Errorf("--egress-deny-cidrs, --egress-allow-cidrs: %w", err))
	}
	if _, err := notify.Policy(o.NotificationAllowedCIDRs); err != nil {
		errs = append(errs, err)
	}
	for _, w := range []struct {
		flag string
		n    int
	}{{"controller-workers", o.ControllerWorkers}, {"applicationset-workers", o.ApplicationSetWorkers}, {"cluster-workers", o.ClusterWorkers}} {
		if w.n < 1 {
			errs = append(errs, fmt.Errorf("--%s %d: must be at least 1", w.flag, w.n))
		}
	}
	if o.RenderWorkers < 1 {
		errs = append(errs, fmt.Errorf("--render-workers %d: must be at least 1: renders run only in confined worker processes", o.RenderWorkers))
	}
	if o.RenderTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--render-timeout %s: must be positive", o.RenderTimeout))
	}
	if _, err := o.renderMemoryLimit(); err != nil {
		errs = append(errs, err)
	}
	if _, err := quantityFlag("git-max-repository-size", o.GitMaxRepositorySize, 1<<20); err != nil {
		errs = append(errs, err)
	}
	if _, err := quantityFlag("git-cache-max-size", o.GitCacheMaxSize, 0); err != nil {
		errs = append(errs, err)
	}
	if o.GitCacheUnusedGracePeriod <= 0 {
		errs = append(errs, fmt.Errorf("--git-cache-unused-grace-period %s: must be positive", o.GitCacheUnusedGracePeriod))
	}
	if o.MaxConcurrentReadRenders < 0 {
		errs = append(errs, fmt.Errorf("--max-concurrent-read-renders %d: must be 0 (half the render workers) or more", o.MaxConcurrentReadRenders))
	}
	if o.MaxConcurrentDiffs < 1 {
		errs = append(errs, fmt.Errorf("--max-concurrent-diffs %d: must be at least 1", o.MaxConcurrentDiffs))
	}
	if o.KubeAPIQPS <= 0 || o.KubeAPIBurst < 1 {
		errs = append(errs, fmt.Errorf("--kube-api-qps (%v) and --kube-api-burst (%d) must be positive", o.KubeAPIQPS, o.KubeAPIBurst))
	}
	return errs
}

// validateLeaderElection checks the Lease settings when the controller elects a leader.
func (o *Options) validateLeaderElection() []error {
	le := o.LeaderElection
	if !o.EnableController || !le.LeaderElect {
		return nil
	}
	var errs []error
	if le.ResourceLock != "leases" {
		errs = append(errs, fmt.Errorf("--leader-elect-resource-lock %q: only \"leases\" is supported", le.ResourceLock))
	}
	if le.ResourceName == "" || le.ResourceNamespace == "" {
		errs = append(errs, fmt.Errorf("--leader-elect-resource-name and --leader-elect-resource-namespace must not be empty"))
	}
	if err := leader.ValidateTimings(le.LeaseDuration.Duration, le.RenewDeadline.Duration, le.RetryPeriod.Duration); err != nil {
		errs = append(errs, fmt.Errorf("--leader-elect-lease-duration, --leader-elect-renew-deadline, --leader-elect-retry-period: %w", err))
	}
	return errs
}

// Config builds the server configuration. It starts the embedded etcd when one is needed and
// returns it, so the caller stops it after the server.
func (o *Options) Config(ctx context.Context) (*apiserver.Config, *embeddedetcd.Server, error) {
	if o.ServingCert.Secret != "" {
		if err := o.applyServingCert(ctx); err != nil {
			return nil, nil, err
		}
	}
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts(
		"localhost", o.AlternateDNS, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, nil, fmt.Errorf("creating self-signed certificates: %w", err)
	}

	var etcd *embeddedetcd.Server
	if o.EmbeddedEtcd() {
		var err error
		etcd, err = embeddedetcd.Start(ctx, embeddedetcd.Options{
			DataDir: o.DataDir, UnsafeNoFsync: o.EmbeddedEtcdUnsafeNoFsync, LogLevel: o.EmbeddedEtcdLogLevel,
		})
		if err != nil {
			return nil, nil, err
		}
		transport := &o.RecommendedOptions.Etcd.StorageConfig.Transport
		transport.ServerList = []string{etcd.ClientURL}
		transport.TrustedCAFile, transport.CertFile, transport.KeyFile = etcd.CAFile, etcd.CertFile, etcd.KeyFile
	}
	config, err := o.config()
	if err != nil {
		// The embedded etcd started for a server that will not run.
		if etcd != nil {
			etcd.Stop()
		}
		return nil, nil, err
	}
	return config, etcd, nil
}

// config is the server's configuration from the flags, once etcd is known.
func (o *Options) config() (*apiserver.Config, error) {
	serverConfig := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	namer := openapi.NewDefinitionNamer(apiserver.Scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(ferryopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIConfig.Info.Title = "Ferry"
	serverConfig.OpenAPIConfig.Info.Version = v1alpha1.SchemeGroupVersion.Version
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(ferryopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "Ferry"
	serverConfig.OpenAPIV3Config.Info.Version = v1alpha1.SchemeGroupVersion.Version
	serverConfig.FeatureGate = o.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	serverConfig.EffectiveVersion = o.ComponentGlobalsRegistry.EffectiveVersionFor(basecompatibility.DefaultKubeComponent)

	serverConfig.ShutdownWatchTerminationGracePeriod = o.ShutdownWatchTerminationGracePeriod

	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		return nil, err
	}
	addFrontProxyCAReadyz(serverConfig)
	config := &apiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig:   apiserver.ExtraConfig{},
	}
	config.ExtraConfig.Validation.AllowFileRepositories = o.AllowFileRepositories
	config.ExtraConfig.Reads.MaxConcurrentDiffs = o.MaxConcurrentDiffs
	config.ExtraConfig.Reads.MaxConcurrentReadRenders = o.MaxConcurrentReadRenders
	if o.MaxConcurrentReadRenders == 0 {
		config.ExtraConfig.Reads.MaxConcurrentReadRenders = max(1, o.RenderWorkers/2)
	}
	privileged, _ := o.privilegedUser() // Validate reported a bad value
	config.ExtraConfig.Tenancy = tenancy.Policy{DefaultServiceAccount: o.DefaultServiceAccount, PrivilegedNamespaces: o.PrivilegedNamespaces, PrivilegedUser: privileged}
	config.ExtraConfig.ClusterCredentialsNamespace = o.ClusterCredentialsNamespace
	notifications, err := notify.Policy(o.NotificationAllowedCIDRs)
	if err != nil {
		return nil, err
	}
	config.ExtraConfig.Notifications = notifications
	if o.EnableController {
		controller, err := o.controllerConfig()
		if err != nil {
			return nil, err
		}
		config.ExtraConfig.Controller = controller
	}
	return config, nil
}

// controllerConfig is the controllers' configuration from the flags.
func (o *Options) controllerConfig() (apiserver.ControllerConfig, error) {
	target, err := o.targetConfig()
	if err != nil {
		return apiserver.ControllerConfig{}, err
	}
	shards, _ := o.shards() // validated
	builder, err := o.renderBuilder()
	if err != nil {
		return apiserver.ControllerConfig{}, err
	}
	cacheDir := o.GitCacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(o.DataDir, "git")
	}
	policy, err := egress.New(o.EgressDenyCIDRs, o.EgressAllowCIDRs)
	if err != nil {
		return apiserver.ControllerConfig{}, err
	}
	return apiserver.ControllerConfig{
		Target:                target,
		Egress:                policy,
		GitCacheDir:           cacheDir,
		GitTimeout:            o.GitTimeout,
		GitMaxRepositoryBytes: mustQuantity(o.GitMaxRepositorySize),
		GitCacheMaxBytes:      mustQuantity(o.GitCacheMaxSize),
		GitCacheUnusedGrace:   o.GitCacheUnusedGracePeriod,
		AllowFileRepositories: o.AllowFileRepositories,
		AllowRemoteBases:      o.AllowRemoteBases,
		Render:                o.Render,
		Builder:               builder,
		Manager: manager.Config{
			ApplicationWorkers:    o.ControllerWorkers,
			ApplicationSetWorkers: o.ApplicationSetWorkers,
			ClusterWorkers:        o.ClusterWorkers,
			FinalizerTimeout:      o.FinalizerTimeout,
			ClusterProbeInterval:  o.ClusterProbeInterval,
			WebhookBindAddress:    o.WebhookBindAddress,
			Shards:                shards,
			Templates:             builder.Templates,
			LeaderElection: manager.LeaderElection{
				Enabled:       o.LeaderElection.LeaderElect,
				Name:          o.LeaderElection.ResourceName,
				Namespace:     o.LeaderElection.ResourceNamespace,
				LeaseDuration: o.LeaderElection.LeaseDuration.Duration,
				RenewDeadline: o.LeaderElection.RenewDeadline.Duration,
				RetryPeriod:   o.LeaderElection.RetryPeriod.Duration,
			},
		},
	}, nil
}

// Server is a configured ferry-apiserver, ready to run.
type Server struct {
	*apiserver.FerryServer
	etcd *embeddedetcd.Server
}

// NewServer configures the server, starting the embedded etcd when one is needed. Call Run, or
// Stop when the server will not run after all.
func (o *Options) NewServer(ctx context.Context) (*Server, error) {
	config, etcd, err := o.Config(ctx)
	if err != nil {
		return nil, err
	}
	completed, err := config.Complete()
	if err != nil {
		if etcd != nil {
			etcd.Stop()
		}
		return nil, err
	}
	server, err := completed.New()
	if err != nil {
		if etcd != nil {
			etcd.Stop()
		}
		return nil, err
	}
	return &Server{FerryServer: server, etcd: etcd}, nil
}

// Run serves until ctx is done, then stops the embedded etcd.
func (s *Server) Run(ctx context.Context) error {
	defer s.Stop()
	if s.etcd != nil {
		go func() {
			select {
			case err := <-s.etcd.Err():
				if err != nil {
					klog.FromContext(ctx).Error(err, "Embedded etcd failed")
				}
			case <-ctx.Done():
			}
		}()
	}
	return s.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}

// Stop stops the embedded etcd, if any. The API server itself stops with its context.
func (s *Server) Stop() {
	if s.etcd != nil {
		s.etcd.Stop()
	}
}

// targetConfig is the cluster Applications deploy into: --target-kubeconfig, else --kubeconfig,
// else the in-cluster configuration; nil when there is none.
func (o *Options) targetConfig() (*rest.Config, error) {
	path := o.TargetKubeconfig
	if path == "" && o.RecommendedOptions.CoreAPI != nil {
		path = o.RecommendedOptions.CoreAPI.CoreAPIKubeconfigPath
	}
	var cfg *rest.Config
	var err error
	if path != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, fmt.Errorf("reading the target cluster's kubeconfig %s: %w", path, err)
		}
	} else {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, nil
		}
	}
	cfg.QPS, cfg.Burst = o.KubeAPIQPS, o.KubeAPIBurst
	cfg.UserAgent = "ferry-controller"
	return cfg, nil
}

// Run starts the server and blocks until ctx is done.
func (o *Options) Run(ctx context.Context) error {
	v := version.Get()
	klog.FromContext(ctx).Info("Starting ferry-apiserver", "version", v.Version, "commit", v.Commit, "go", v.GoVersion)
	server, err := o.NewServer(ctx)
	if err != nil {
		return err
	}
	return server.Run(ctx)
}

// NewCommand returns the ferry-apiserver command.
func NewCommand(ctx context.Context, defaults *Options) *cobra.Command {
	o := *defaults
	var printVersion bool
	cmd := &cobra.Command{
		Use:   "ferry-apiserver",
		Short: "Serve Ferry's GitOps Applications as a Kubernetes aggregated API",
		Long: `ferry-apiserver serves the gitops.ferry.dev API (Applications and their status and sync
subresources) behind kube-apiserver's aggregation layer. It stores Applications in etcd: its own
embedded etcd in --data-dir when --etcd-servers is empty, or an external etcd cluster.`,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return defaults.ComponentGlobalsRegistry.Set()
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("ferry-apiserver takes no arguments, got %q", args)
			}
			if printVersion {
				_, err := fmt.Fprintln(c.OutOrStdout(), "ferry-apiserver", version.Get())
				return err
			}
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(c.Context())
		},
		SilenceUsage: true,
	}
	cmd.SetContext(ctx)

	fs := cmd.Flags()
	fs.BoolVar(&printVersion, "version", false, "Print the version and commit this binary was built from, and exit.")
	o.RecommendedOptions.AddFlags(fs)
	o.AddFlags(fs)
	defaults.ComponentGlobalsRegistry.AddFlags(fs)
	return cmd
}

// renderMemoryLimit parses --render-memory-limit.
func (o *Options) renderMemoryLimit() (int64, error) {
	// Go reserves address space 64 MiB at a time: less than two of those stops ordinary renders.
	// Below 256Mi, kustomize's own first-build allocations come close to the limit.
	return quantityFlag("render-memory-limit", o.RenderMemoryLimit, 256<<20)
}

// quantityFlag parses a size flag of at least min bytes.
func quantityFlag(name, value string, min int64) (int64, error) {
	q, err := resource.ParseQuantity(value)
	if err != nil || q.Value() < min {
		return 0, fmt.Errorf("--%s %q: want a quantity of at least %s, such as 512Mi or 2Gi", name, value, resource.NewQuantity(min, resource.BinarySI))
	}
	return q.Value(), nil
}

// renderBuilder is the pool of confined render workers; nothing renders in the server itself.
func (o *Options) renderBuilder() (*worker.Pool, error) {
	limit, err := o.renderMemoryLimit()
	if err != nil {
		return nil, err
	}
	return worker.New(worker.Options{Command: o.RenderWorkerCommand, Workers: o.RenderWorkers, Timeout: o.RenderTimeout, MemoryLimit: limit})
}

// mustQuantity is a size flag Validate has checked.
func mustQuantity(value string) int64 {
	q := resource.MustParse(value)
	return q.Value()
}
