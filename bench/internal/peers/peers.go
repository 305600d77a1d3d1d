// Package peers starts the GitOps tools Ferry is measured against (issue 31), built from their Go
// modules by hack/build-peers.sh, as local processes against a local kube-apiserver: Flux's
// source-controller and kustomize-controller (and helm-controller), and Argo CD's
// application-controller, repo-server and Redis. It is shared by `go run ./bench/peers`, which
// syncs one app with each, and by `go run ./bench -peers`, which measures them. Every flag and
// setting a peer gets is returned as its configuration, for the results, and written down in
// bench/peers/CONFIG.md.
package peers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// Logf reports progress; by default on stderr with the time.
var Logf = func(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Built is what hack/build-peers.sh printed for one peer: its version and binary.
type Built struct{ Version, Bin string }

// Build runs hack/build-peers.sh for the named peers (source-controller, kustomize-controller,
// helm-controller, argocd, redis, helm, kustomize), which builds them once and then finds them
// in ~/.cache/ferry/peers.
func Build(root string, names ...string) (map[string]Built, error) {
	cmd := exec.Command(filepath.Join(root, "hack", "build-peers.sh"), names...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("hack/build-peers.sh %s: %w", strings.Join(names, " "), err)
	}
	m := map[string]Built{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			m[f[0]] = Built{Version: f[1], Bin: f[2]}
		}
	}
	return m, nil
}

// FluxBinaries and ArgoCDBinaries are the names to Build for each peer.
var (
	FluxBinaries = []string{"source-controller", "kustomize-controller"}
	// FluxHelmBinaries is what Flux adds for a chart: helm-controller.
	FluxHelmBinaries = []string{"helm-controller"}
	ArgoCDBinaries   = []string{"argocd", "redis", "helm", "kustomize"}
)

// Env is where peers run: a stack, a directory for their logs and state, and admin clients.
type Env struct {
	Stack *localstack.Stack
	// Dir holds the peers' logs (<process>.log) and state.
	Dir  string
	Kube kubernetes.Interface
	Dyn  dynamic.Interface
	// FluxEnv is the Flux controllers' environment, for helm-controller started after them.
	FluxEnv []string

	procs []Process
	// scratch are directories outside Dir to remove when the peers stop.
	scratch []string
}

// Process is a started peer process; done closes when it has exited.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{}
}

// NewEnv makes a directory for peers on stack (under dir, or a temporary one when dir is empty).
func NewEnv(stack *localstack.Stack, dir string) (*Env, error) {
	e := &Env{Stack: stack}
	var err error
	if e.Dir, err = os.MkdirTemp(dir, "ferry-peers-"); err != nil {
		return nil, err
	}
	admin := stack.RestConfig("admin")
	if e.Kube, err = kubernetes.NewForConfig(admin); err != nil {
		return nil, err
	}
	if e.Dyn, err = dynamic.NewForConfig(admin); err != nil {
		return nil, err
	}
	return e, nil
}

// Start runs a peer's process with its output in Dir/name.log.
func (e *Env) Start(name string, environ []string, bin string, args ...string) error {
	logPath := filepath.Join(e.Dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Args[0] = filepath.Base(bin)
	cmd.Env = append(os.Environ(), environ...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = e.Dir
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	Logf("started %s (pid %d): %s %s", name, cmd.Process.Pid, bin, strings.Join(args, " "))
	done := make(chan struct{})
	e.procs = append(e.procs, Process{Name: name, Cmd: cmd, done: done})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	return nil
}

// Processes are the peer processes started so far and not stopped.
func (e *Env) Processes() []Process { return append([]Process(nil), e.procs...) }

// Stop kills every peer process, waits for them to exit and removes the scratch directories
// (Dir stays, with the logs).
func (e *Env) Stop() {
	for _, p := range e.procs {
		_ = p.Cmd.Process.Kill()
	}
	for _, p := range e.procs {
		<-p.done
	}
	e.procs = nil
	for _, d := range e.scratch {
		_ = os.RemoveAll(d)
	}
	e.scratch = nil
}

// RemoveDir removes Dir, once the logs are not needed.
func (e *Env) RemoveDir() { _ = os.RemoveAll(e.Dir) }

// Scratch adds a directory to remove at Stop.
func (e *Env) Scratch(dir string) { e.scratch = append(e.scratch, dir) }

// Kubectl runs the stack's kubectl as admin.
func (e *Env) Kubectl(args ...string) error {
	cmd := exec.Command(e.Stack.Kubectl(), append([]string{"--kubeconfig", e.Stack.Kubeconfig()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Namespace creates a namespace unless it exists.
func (e *Env) Namespace(ctx context.Context, name string) error {
	_, err := e.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Create creates an object unless it exists.
func (e *Env) Create(ctx context.Context, gvr schema.GroupVersionResource, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	_, err := e.Dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// WaitFor polls obj until ok says it is done, or the deadline; the last state is in the error.
func (e *Env) WaitFor(ctx context.Context, timeout time.Duration, gvr schema.GroupVersionResource, ns, name string, ok func(*unstructured.Unstructured) (bool, string)) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	last := "not found"
	for time.Now().Before(deadline) {
		u, err := e.Dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			var done bool
			done, last = ok(u)
			if done {
				return time.Since(start), nil
			}
		} else {
			last = err.Error()
		}
		select {
		case <-time.After(250 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return 0, fmt.Errorf("%s %s/%s not done after %s: %s", gvr.Resource, ns, name, timeout, last)
}

// Established waits for CRDs to be served: objects of a kind whose CRD is not yet Established
// are refused.
func (e *Env) Established(ctx context.Context, names ...string) error {
	for _, name := range names {
		if _, err := e.WaitFor(ctx, time.Minute, CRDs, "", name, Condition("Established")); err != nil {
			return err
		}
	}
	return nil
}

// ReadyCondition reports a Kubernetes-style Ready condition (Flux's objects).
var ReadyCondition = Condition("Ready")

// Condition reports whether a Kubernetes-style condition is True.
func Condition(kind string) func(*unstructured.Unstructured) (bool, string) {
	return func(u *unstructured.Unstructured) (bool, string) {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == kind {
				return m["status"] == "True", fmt.Sprintf("%s=%v %v: %v", kind, m["status"], m["reason"], m["message"])
			}
		}
		return false, "no " + kind + " condition yet"
	}
}

// FreePorts picks n free ports on 127.0.0.1.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		p, err := localstack.FreePort()
		if err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

// ModDir is a module's source in the module cache, where hack/build-peers.sh left it.
func ModDir(module, version string) (string, error) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), module+"@"+version)
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("module source of %s@%s (hack/build-peers.sh downloads it): %w", module, version, err)
	}
	return dir, nil
}

// The peers' resources.
var (
	CRDs             = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	GitRepositories  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	HelmRepositories = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmrepositories"}
	HelmCharts       = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmcharts"}
	HelmReleases     = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}
	Kustomizations   = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	Applications     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	AppProjects      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
)

// FluxNamespace holds Flux's own objects (GitRepository, Kustomizations).
const FluxNamespace = "flux-system"

// FluxOptions are the settings Flux's vertical-scaling guide varies with the number of
// Kustomizations.
type FluxOptions struct {
	// Concurrent is --concurrent of both controllers (0: 4, the smoke's).
	Concurrent int
	// RequeueDependency is --requeue-dependency (0: the controllers' default, 30s).
	RequeueDependency time.Duration
}

// StartFlux applies Flux's CRDs, creates flux-system, and starts source-controller and
// kustomize-controller as Flux's own manifests run them (leader election off, since there is one
// replica), with the storage server on 127.0.0.1 and TMPDIR on tmpfs. It returns the
// configuration: versions, flags and environment.
func (e *Env) StartFlux(ctx context.Context, bins map[string]Built, opts FluxOptions) (map[string]any, error) {
	sc, kc := bins["source-controller"], bins["kustomize-controller"]
	if sc.Bin == "" || kc.Bin == "" {
		return nil, errors.New("source-controller or kustomize-controller was not built")
	}
	for _, p := range []struct{ module, version string }{
		{"github.com/fluxcd/source-controller", sc.Version},
		{"github.com/fluxcd/kustomize-controller", kc.Version},
	} {
		dir, err := ModDir(p.module, p.version)
		if err != nil {
			return nil, err
		}
		if err := e.Kubectl("apply", "--server-side", "-f", filepath.Join(dir, "config", "crd", "bases")); err != nil {
			return nil, err
		}
	}
	if err := e.Established(ctx, "gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"); err != nil {
		return nil, err
	}
	if err := e.Namespace(ctx, FluxNamespace); err != nil {
		return nil, err
	}
	ports, err := FreePorts(5)
	if err != nil {
		return nil, err
	}
	storage := filepath.Join(e.Dir, "source-controller-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	tmp, err := fluxTmp(e.Dir)
	if err != nil {
		return nil, err
	}
	e.Scratch(tmp)
	environ := []string{"KUBECONFIG=" + e.Stack.Kubeconfig(), "RUNTIME_NAMESPACE=" + FluxNamespace, "TMPDIR=" + tmp}
	e.FluxEnv = environ
	Logf("flux: TMPDIR %s", tmp)
	concurrent := opts.Concurrent
	if concurrent == 0 {
		concurrent = 4
	}
	tuning := []string{"--concurrent=" + strconv.Itoa(concurrent)}
	if opts.RequeueDependency > 0 {
		tuning = append(tuning, "--requeue-dependency="+opts.RequeueDependency.String())
	}
	storageAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	scArgs := append([]string{
		"--storage-path=" + storage, "--storage-addr=" + storageAddr, "--storage-adv-addr=" + storageAddr,
		"--metrics-addr=127.0.0.1:" + strconv.Itoa(ports[1]), "--health-addr=127.0.0.1:" + strconv.Itoa(ports[2]),
		"--enable-leader-election=false", "--watch-all-namespaces=true", "--log-level=info",
	}, tuning...)
	if err := e.Start("source-controller", environ, sc.Bin, scArgs...); err != nil {
		return nil, err
	}
	kcArgs := append([]string{
		"--metrics-addr=127.0.0.1:" + strconv.Itoa(ports[3]), "--health-addr=127.0.0.1:" + strconv.Itoa(ports[4]),
		"--enable-leader-election=false", "--watch-all-namespaces=true", "--log-level=info",
	}, tuning...)
	if err := e.Start("kustomize-controller", environ, kc.Bin, kcArgs...); err != nil {
		return nil, err
	}
	return map[string]any{
		"source-controller":    map[string]any{"version": sc.Version, "args": scArgs},
		"kustomize-controller": map[string]any{"version": kc.Version, "args": kcArgs},
		"environment":          environ[1:],
	}, nil
}

// StartHelmController applies helm-controller's CRDs and starts it beside StartFlux's
// controllers, with their environment and the same --concurrent. It returns its configuration.
func (e *Env) StartHelmController(ctx context.Context, bins map[string]Built, opts FluxOptions) (map[string]any, error) {
	hc := bins["helm-controller"]
	if hc.Bin == "" {
		return nil, errors.New("helm-controller was not built")
	}
	dir, err := ModDir("github.com/fluxcd/helm-controller", hc.Version)
	if err != nil {
		return nil, err
	}
	if err := e.Kubectl("apply", "--server-side", "-f", filepath.Join(dir, "config", "crd", "bases")); err != nil {
		return nil, err
	}
	if err := e.Established(ctx, "helmreleases.helm.toolkit.fluxcd.io"); err != nil {
		return nil, err
	}
	ports, err := FreePorts(2)
	if err != nil {
		return nil, err
	}
	concurrent := opts.Concurrent
	if concurrent == 0 {
		concurrent = 4
	}
	args := []string{
		"--metrics-addr=127.0.0.1:" + strconv.Itoa(ports[0]), "--health-addr=127.0.0.1:" + strconv.Itoa(ports[1]),
		"--enable-leader-election=false", "--watch-all-namespaces=true", "--log-level=info",
		"--concurrent=" + strconv.Itoa(concurrent),
	}
	if opts.RequeueDependency > 0 {
		args = append(args, "--requeue-dependency="+opts.RequeueDependency.String())
	}
	if err := e.Start("helm-controller", e.FluxEnv, hc.Bin, args...); err != nil {
		return nil, err
	}
	return map[string]any{"version": hc.Version, "args": args}, nil
}

// RemoveFluxFinalizers takes Flux's finalizers off every GitRepository and Kustomization, so that
// their namespace can go once the controllers are stopped (they would otherwise wait for a
// controller to garbage-collect their objects).
func (e *Env) RemoveFluxFinalizers(ctx context.Context) {
	for _, gvr := range []schema.GroupVersionResource{Kustomizations, GitRepositories, HelmReleases, HelmCharts, HelmRepositories} {
		list, err := e.Dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, u := range list.Items {
			if len(u.GetFinalizers()) == 0 {
				continue
			}
			_, err := e.Dyn.Resource(gvr).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				Logf("flux: removing the finalizers of %s %s/%s: %v", gvr.Resource, u.GetNamespace(), u.GetName(), err)
			}
		}
	}
}

// fluxTmp is the controllers' TMPDIR, where they clone and unpack every revision. Flux asks for
// /tmp on tmpfs at scale (an emptyDir with medium Memory); this machine's /tmp is on disk, so it
// is a directory in /dev/shm when there is one.
func fluxTmp(dir string) (string, error) {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return os.MkdirTemp("/dev/shm", "ferry-peers-flux-tmp-")
	}
	tmp := filepath.Join(dir, "flux-tmp")
	return tmp, os.MkdirAll(tmp, 0o755)
}

// ArgoCDNamespace holds Argo CD's configuration and Applications.
const ArgoCDNamespace = "argocd"

// ArgoCDOptions are the settings Argo CD's high-availability guide varies with the number of
// Applications.
type ArgoCDOptions struct {
	// StatusProcessors and OperationProcessors are the application-controller's
	// --status-processors and --operation-processors (0: 20 and 10).
	StatusProcessors, OperationProcessors int
	// RepoParallelism is argocd-repo-server's --parallelismlimit (0: unlimited, its default).
	RepoParallelism int
	// ClientQPS and ClientBurst are ARGOCD_K8S_CLIENT_QPS and _BURST (0: Argo CD's 50 and 100).
	ClientQPS, ClientBurst int
}

// StartArgoCD applies Argo CD's CRDs and base configuration (manifests/base/config), creates
// the default AppProject, and starts Redis, argocd-repo-server and
// argocd-application-controller the way Argo CD's own Procfile runs them locally
// (ARGOCD_FAKE_IN_CLUSTER: the in-cluster destination is the kubeconfig's cluster). It returns
// the configuration: versions, flags and environment.
func (e *Env) StartArgoCD(ctx context.Context, bins map[string]Built, opts ArgoCDOptions) (map[string]any, error) {
	ac, redis := bins["argocd"], bins["redis"]
	if ac.Bin == "" || redis.Bin == "" {
		return nil, errors.New("argocd or redis was not built")
	}
	dir, err := ModDir("github.com/argoproj/argo-cd/v3", ac.Version)
	if err != nil {
		return nil, err
	}
	if err := e.Kubectl("apply", "--server-side", "-k", filepath.Join(dir, "manifests", "crds")); err != nil {
		return nil, err
	}
	if err := e.Established(ctx, "applications.argoproj.io", "appprojects.argoproj.io"); err != nil {
		return nil, err
	}
	if err := e.Namespace(ctx, ArgoCDNamespace); err != nil {
		return nil, err
	}
	if err := e.Kubectl("apply", "--server-side", "-n", ArgoCDNamespace, "-k", filepath.Join(dir, "manifests", "base", "config")); err != nil {
		return nil, err
	}
	if err := e.Create(ctx, AppProjects, map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
		"metadata": map[string]any{"name": "default", "namespace": ArgoCDNamespace},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}); err != nil {
		return nil, err
	}
	ports, err := FreePorts(4)
	if err != nil {
		return nil, err
	}
	redisAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	redisArgs := []string{"--bind", "127.0.0.1", "--port", strconv.Itoa(ports[0]), "--save", "", "--appendonly", "no", "--dir", e.Dir}
	if err := e.Start("redis", nil, redis.Bin, redisArgs...); err != nil {
		return nil, err
	}
	local := filepath.Join(e.Dir, "argocd-local")
	environ := []string{
		"KUBECONFIG=" + e.Stack.Kubeconfig(), "ARGOCD_FAKE_IN_CLUSTER=true", "ARGOCD_GPG_ENABLED=false",
		"ARGOCD_TLS_DATA_PATH=" + filepath.Join(local, "tls"), "ARGOCD_SSH_DATA_PATH=" + filepath.Join(local, "ssh"),
		"ARGOCD_GNUPGHOME=" + filepath.Join(local, "gpg", "keys"), "ARGOCD_GPG_DATA_PATH=" + filepath.Join(local, "gpg", "source"),
		// argocd-repo-server clones into $TMPDIR/_argocd-repo.
		"TMPDIR=" + filepath.Join(local, "tmp"),
	}
	if opts.ClientQPS > 0 {
		environ = append(environ, "ARGOCD_K8S_CLIENT_QPS="+strconv.Itoa(opts.ClientQPS))
	}
	if opts.ClientBurst > 0 {
		environ = append(environ, "ARGOCD_K8S_CLIENT_BURST="+strconv.Itoa(opts.ClientBurst))
	}
	for _, d := range []string{"tls", "ssh", "gpg/keys", "gpg/source", "tmp"} {
		if err := os.MkdirAll(filepath.Join(local, d), 0o700); err != nil {
			return nil, err
		}
	}
	binDir := filepath.Dir(ac.Bin)
	// hack/build-peers.sh put Argo CD's git-verify-wrapper.sh beside the binary; with the helm and
	// kustomize it built, that is what Argo CD's image has on PATH.
	path := []string{binDir}
	tools := map[string]any{}
	for _, tool := range []string{"helm", "kustomize"} {
		if b := bins[tool]; b.Bin != "" {
			path = append(path, filepath.Dir(b.Bin))
			tools[tool] = b.Version
		}
	}
	environ = append(environ, "PATH="+strings.Join(append(path, os.Getenv("PATH")), string(os.PathListSeparator)))
	repoAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	repoArgs := []string{
		"--address", "127.0.0.1", "--port", strconv.Itoa(ports[1]),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(ports[2]),
		"--redis", redisAddr, "--loglevel", "info",
	}
	if opts.RepoParallelism > 0 {
		repoArgs = append(repoArgs, "--parallelismlimit", strconv.Itoa(opts.RepoParallelism))
	}
	if err := e.Start("argocd-repo-server", environ, filepath.Join(binDir, "argocd-repo-server"), repoArgs...); err != nil {
		return nil, err
	}
	status, operation := opts.StatusProcessors, opts.OperationProcessors
	if status == 0 {
		status = 20
	}
	if operation == 0 {
		operation = 10
	}
	ctrlArgs := []string{
		"--namespace", ArgoCDNamespace, "--repo-server", repoAddr, "--redis", redisAddr,
		"--metrics-port", strconv.Itoa(ports[3]),
		"--status-processors", strconv.Itoa(status), "--operation-processors", strconv.Itoa(operation),
		"--loglevel", "info",
	}
	if err := e.Start("argocd-application-controller", environ, filepath.Join(binDir, "argocd-application-controller"), ctrlArgs...); err != nil {
		return nil, err
	}
	var shown []string
	for _, v := range environ {
		if !strings.HasPrefix(v, "PATH=") && !strings.HasPrefix(v, "KUBECONFIG=") {
			shown = append(shown, v)
		}
	}
	return map[string]any{
		"argocd-application-controller": map[string]any{"version": ac.Version, "args": ctrlArgs},
		"argocd-repo-server":            map[string]any{"version": ac.Version, "args": repoArgs},
		"redis":                         map[string]any{"version": redis.Version, "args": redisArgs},
		"tools on PATH":                 tools,
		"environment":                   shown,
		"configuration":                 "manifests/base/config of the module (argocd-cm etc. as shipped: timeout.reconciliation 120s)",
	}, nil
}
