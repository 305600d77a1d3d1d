// Command peers starts the GitOps tools Ferry is measured against (issue 31), built by
// hack/build-peers.sh, as local processes against a local kube-apiserver, and checks that each
// brings one app from a local Git server to Ready (Flux: a GitRepository and a Kustomization) or
// Synced and Healthy (Argo CD: an Application). It is the foundation of `go run ./bench -peers`:
// every flag and setting it gives a peer is written down in bench/peers/CONFIG.md.
//
//	go run ./bench/peers                 # both
//	go run ./bench/peers -peers flux     # one
//	go run ./bench/peers -reuse .dev     # on make dev-up's stack instead of a new one
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
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
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

func main() {
	peers := flag.String("peers", "flux,flux-helm,argocd", "comma-separated peers to start: flux (source- and kustomize-controller), flux-helm (helm-controller beside them), argocd")
	reuse := flag.String("reuse", "", "attach to the stack running in this directory (make dev-up's .dev) instead of starting one")
	timeout := flag.Duration("timeout", 5*time.Minute, "how long each peer has to bring its app to Ready/Synced")
	keep := flag.Bool("keep", false, "leave the peers and the stack running, for looking at them")
	flag.Parse()
	if err := run(*peers, *reuse, *timeout, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// built is what hack/build-peers.sh printed: name -> version and binary.
type built struct{ version, bin string }

func buildPeers(root string, names ...string) (map[string]built, error) {
	cmd := exec.Command(filepath.Join(root, "hack", "build-peers.sh"), names...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("hack/build-peers.sh %s: %w", strings.Join(names, " "), err)
	}
	m := map[string]built{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			m[f[0]] = built{version: f[1], bin: f[2]}
		}
	}
	return m, nil
}

type env struct {
	root  string
	stack *localstack.Stack
	dir   string // logs and state of the peers
	kube  kubernetes.Interface
	dyn   dynamic.Interface
	repo  *gittest.Repo
	// charts is the URL of a Helm chart repository on 127.0.0.1 serving the chart "app".
	charts string
	procs  []peerProcess
	// fluxEnv is the Flux controllers' environment, for helm-controller started after them.
	fluxEnv []string
	// scratch are directories outside dir to remove when the peers stop.
	scratch []string
}

func run(peerList, reuse string, timeout time.Duration, keep bool) error {
	root, err := localstack.RepoRoot()
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, p := range strings.Split(peerList, ",") {
		switch p = strings.TrimSpace(p); p {
		case "flux", "argocd":
			want[p] = true
		case "flux-helm":
			want["flux"], want[p] = true, true
		case "":
		default:
			return fmt.Errorf("-peers: unknown peer %q (flux, flux-helm, argocd)", p)
		}
	}
	var names []string
	if want["flux"] {
		names = append(names, "source-controller", "kustomize-controller")
	}
	if want["flux-helm"] {
		names = append(names, "helm-controller")
	}
	if want["argocd"] {
		names = append(names, "argocd", "redis", "helm", "kustomize")
	}
	bins, err := buildPeers(root, names...)
	if err != nil {
		return err
	}

	e := &env{root: root}
	if reuse != "" {
		e.stack, err = localstack.Attach(reuse)
	} else {
		logf("starting a local control plane (no Ferry, no Node)")
		e.stack, err = localstack.Start(localstack.Options{NoNode: true, Keep: keep})
	}
	if err != nil {
		return err
	}
	if !keep {
		defer e.stack.Stop()
	}
	if e.dir, err = os.MkdirTemp("", "ferry-peers-"); err != nil {
		return err
	}
	logf("peers' logs and state in %s", e.dir)
	defer func() {
		if !keep {
			e.stopAll()
		}
	}()
	admin := e.stack.RestConfig("admin")
	if e.kube, err = kubernetes.NewForConfig(admin); err != nil {
		return err
	}
	if e.dyn, err = dynamic.NewForConfig(admin); err != nil {
		return err
	}

	program := &gittest.Program{Dir: e.dir}
	defer program.Close()
	srv := gittest.NewServer(program)
	e.repo = srv.NewRepo("peers")
	e.repo.Commit("main", map[string]string{
		"flux/app/configmap.yaml":   configMap("flux-demo", "flux-app"),
		"argocd/app/configmap.yaml": configMap("argocd-demo", "argocd-app"),
		// A kustomize overlay, which argocd-repo-server renders by running kustomize.
		"argocd/kustomize/kustomization.yaml": "resources: [configmap.yaml]\n",
		"argocd/kustomize/configmap.yaml":     configMap("argocd-demo", "argocd-kustomize-app"),
	}, "one app per peer")
	logf("Git repository at %s", e.repo.URL())
	stopCharts, err := e.serveCharts()
	if err != nil {
		return err
	}
	defer stopCharts()
	logf("Helm chart repository at %s", e.charts)

	ctx := context.Background()
	var failed []string
	if want["flux"] {
		if err := e.flux(ctx, bins, timeout); err != nil {
			logf("flux: %v", err)
			failed = append(failed, "flux")
		}
	}
	if want["flux-helm"] && !contains(failed, "flux") {
		if err := e.fluxHelm(ctx, bins, timeout); err != nil {
			logf("flux-helm: %v", err)
			failed = append(failed, "flux-helm")
		}
	}
	if want["argocd"] {
		if err := e.argocd(ctx, bins, timeout); err != nil {
			logf("argocd: %v", err)
			failed = append(failed, "argocd")
		}
	}
	e.reportRSS()
	if keep {
		logf("left running: the stack in %s (hack/local-down.sh with FERRY_DEV_DIR to stop), peers' pids in %s/pids", e.stack.Dir, e.dir)
		e.writePids()
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s did not sync (logs in %s)", strings.Join(failed, ", "), e.dir)
	}
	if !keep {
		e.scratch = append(e.scratch, e.dir)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func configMap(namespace, name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  revision: v1\n", name, namespace)
}

// peerProcess is a started peer; done closes when it has exited.
type peerProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// chartFiles is the chart "app" 0.1.0: one ConfigMap named after the release.
var chartFiles = map[string]string{
	"app/Chart.yaml":  "apiVersion: v2\nname: app\nversion: 0.1.0\n",
	"app/values.yaml": "revision: v1\n",
	"app/templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" +
		"data:\n  revision: {{ .Values.revision | quote }}\n",
}

// serveCharts serves a Helm chart repository (index.yaml and the packaged chart) on 127.0.0.1, as
// the Helm workload asks: Flux reads it through a HelmRepository, Argo CD through an
// Application whose source is a chart.
func (e *env) serveCharts() (stop func(), err error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"app/Chart.yaml", "app/values.yaml", "app/templates/configmap.yaml"} {
		body := chartFiles[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	tgz := buf.Bytes()
	sum := sha256.Sum256(tgz)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.charts = "http://" + l.Addr().String()
	index := fmt.Sprintf("apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n    name: app\n    version: 0.1.0\n"+
		"    created: \"2026-01-01T00:00:00Z\"\n    digest: %s\n    urls:\n    - %s/app-0.1.0.tgz\ngenerated: \"2026-01-01T00:00:00Z\"\n",
		hex.EncodeToString(sum[:]), e.charts)
	mux := http.NewServeMux()
	mux.HandleFunc("/index.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-yaml")
		_, _ = w.Write([]byte(index))
	})
	mux.HandleFunc("/app-0.1.0.tgz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(tgz)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return func() { _ = srv.Close() }, nil
}

// start runs a peer's process with its output in dir/name.log.
func (e *env) start(name string, environ []string, bin string, args ...string) error {
	logPath := filepath.Join(e.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Args[0] = filepath.Base(bin)
	cmd.Env = append(os.Environ(), environ...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = e.dir
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("starting %s: %w", name, err)
	}
	logf("started %s (pid %d): %s %s", name, cmd.Process.Pid, bin, strings.Join(args, " "))
	done := make(chan struct{})
	e.procs = append(e.procs, peerProcess{cmd: cmd, done: done})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	return nil
}

func (e *env) stopAll() {
	for _, p := range e.procs {
		_ = p.cmd.Process.Kill()
	}
	for _, p := range e.procs {
		<-p.done
	}
	for _, d := range e.scratch {
		_ = os.RemoveAll(d)
	}
}

// reportRSS prints each peer process's resident memory now, once its app is synced: a first
// look at what the benchmark's peak RSS column will hold.
func (e *env) reportRSS() {
	for _, p := range e.procs {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
				logf("%s: %s %s kB", p.cmd.Args[0], strings.TrimSuffix(f[0], ":"), f[1])
			}
		}
	}
}

func (e *env) writePids() {
	var b strings.Builder
	for _, p := range e.procs {
		fmt.Fprintf(&b, "%d %s\n", p.cmd.Process.Pid, p.cmd.Args[0])
	}
	_ = os.WriteFile(filepath.Join(e.dir, "pids"), []byte(b.String()), 0o644)
}

func (e *env) kubectl(args ...string) error {
	cmd := exec.Command(e.stack.Kubectl(), append([]string{"--kubeconfig", e.stack.Kubeconfig()}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (e *env) namespace(ctx context.Context, name string) error {
	_, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (e *env) create(ctx context.Context, gvr schema.GroupVersionResource, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	_, err := e.dyn.Resource(gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// waitFor polls obj until ok says it is done, or the deadline; the last state is in the error.
func (e *env) waitFor(ctx context.Context, timeout time.Duration, gvr schema.GroupVersionResource, ns, name string, ok func(*unstructured.Unstructured) (bool, string)) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	last := "not found"
	for time.Now().Before(deadline) {
		u, err := e.dyn.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			var done bool
			done, last = ok(u)
			if done {
				return time.Since(start), nil
			}
		} else {
			last = err.Error()
		}
		time.Sleep(250 * time.Millisecond)
	}
	return 0, fmt.Errorf("%s %s/%s not done after %s: %s", gvr.Resource, ns, name, timeout, last)
}

// established waits for CRDs to be served: objects of a kind whose CRD is not yet Established
// are refused.
func (e *env) established(ctx context.Context, names ...string) error {
	for _, name := range names {
		if _, err := e.waitFor(ctx, time.Minute, crds, "", name, condition("Established")); err != nil {
			return err
		}
	}
	return nil
}

// readyCondition reports a Kubernetes-style Ready condition (Flux's objects).
var readyCondition = condition("Ready")

// condition reports whether a Kubernetes-style condition is True.
func condition(kind string) func(*unstructured.Unstructured) (bool, string) {
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

func freePorts(n int) ([]int, error) {
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

func modDir(module, version string) (string, error) {
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

var (
	crds             = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	gitRepositories  = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	helmRepositories = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "helmrepositories"}
	helmReleases     = schema.GroupVersionResource{Group: "helm.toolkit.fluxcd.io", Version: "v2", Resource: "helmreleases"}
	kustomizations   = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	applications     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	appProjects      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
)

// flux starts source-controller and kustomize-controller as Flux's own manifests run them
// (leader election off, since there is one replica), with the storage server on 127.0.0.1, and
// syncs one GitRepository + Kustomization.
func (e *env) flux(ctx context.Context, bins map[string]built, timeout time.Duration) error {
	sc, kc := bins["source-controller"], bins["kustomize-controller"]
	if sc.bin == "" || kc.bin == "" {
		return errors.New("source-controller or kustomize-controller was not built")
	}
	for _, p := range []struct{ module, version string }{
		{"github.com/fluxcd/source-controller", sc.version},
		{"github.com/fluxcd/kustomize-controller", kc.version},
	} {
		dir, err := modDir(p.module, p.version)
		if err != nil {
			return err
		}
		if err := e.kubectl("apply", "--server-side", "-f", filepath.Join(dir, "config", "crd", "bases")); err != nil {
			return err
		}
	}
	if err := e.established(ctx, "gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"); err != nil {
		return err
	}
	for _, ns := range []string{"flux-system", "flux-demo"} {
		if err := e.namespace(ctx, ns); err != nil {
			return err
		}
	}
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	storage := filepath.Join(e.dir, "source-controller-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return err
	}
	tmp, err := fluxTmp(e.dir)
	if err != nil {
		return err
	}
	e.scratch = append(e.scratch, tmp)
	environ := []string{"KUBECONFIG=" + e.stack.Kubeconfig(), "RUNTIME_NAMESPACE=flux-system", "TMPDIR=" + tmp}
	e.fluxEnv = environ
	logf("flux: TMPDIR %s", tmp)
	storageAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	if err := e.start("source-controller", environ, sc.bin,
		"--storage-path="+storage, "--storage-addr="+storageAddr, "--storage-adv-addr="+storageAddr,
		"--metrics-addr=127.0.0.1:"+strconv.Itoa(ports[1]), "--health-addr=127.0.0.1:"+strconv.Itoa(ports[2]),
		"--enable-leader-election=false", "--watch-all-namespaces=true", "--concurrent=4", "--log-level=info",
	); err != nil {
		return err
	}
	if err := e.start("kustomize-controller", environ, kc.bin,
		"--metrics-addr=127.0.0.1:"+strconv.Itoa(ports[3]), "--health-addr=127.0.0.1:"+strconv.Itoa(ports[4]),
		"--enable-leader-election=false", "--watch-all-namespaces=true", "--concurrent=4", "--log-level=info",
	); err != nil {
		return err
	}
	if err := e.create(ctx, gitRepositories, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "peers", "namespace": "flux-system"},
		"spec":     map[string]any{"url": e.repo.URL(), "ref": map[string]any{"branch": "main"}, "interval": "1m"},
	}); err != nil {
		return err
	}
	if err := e.create(ctx, kustomizations, map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "flux-app", "namespace": "flux-system"},
		"spec": map[string]any{
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "peers"},
			"path":      "./flux/app", "prune": true, "interval": "1m",
		},
	}); err != nil {
		return err
	}
	d, err := e.waitFor(ctx, timeout, gitRepositories, "flux-system", "peers", readyCondition)
	if err != nil {
		return err
	}
	logf("flux: GitRepository Ready after %s", d.Round(time.Millisecond))
	d, err = e.waitFor(ctx, timeout, kustomizations, "flux-system", "flux-app", readyCondition)
	if err != nil {
		return err
	}
	logf("flux: Kustomization Ready after %s more", d.Round(time.Millisecond))
	if _, err := e.kube.CoreV1().ConfigMaps("flux-demo").Get(ctx, "flux-app", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("the Kustomization is Ready but its ConfigMap: %w", err)
	}
	logf("flux: ConfigMap flux-demo/flux-app applied")
	return nil
}

// fluxHelm starts helm-controller beside flux's source-controller and installs one HelmRelease
// of the chart repository's chart (source-controller fetches it through a HelmRepository).
func (e *env) fluxHelm(ctx context.Context, bins map[string]built, timeout time.Duration) error {
	hc := bins["helm-controller"]
	if hc.bin == "" {
		return errors.New("helm-controller was not built")
	}
	dir, err := modDir("github.com/fluxcd/helm-controller", hc.version)
	if err != nil {
		return err
	}
	if err := e.kubectl("apply", "--server-side", "-f", filepath.Join(dir, "config", "crd", "bases")); err != nil {
		return err
	}
	if err := e.established(ctx, "helmreleases.helm.toolkit.fluxcd.io"); err != nil {
		return err
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	if err := e.start("helm-controller", e.fluxEnv, hc.bin,
		"--metrics-addr=127.0.0.1:"+strconv.Itoa(ports[0]), "--health-addr=127.0.0.1:"+strconv.Itoa(ports[1]),
		"--enable-leader-election=false", "--watch-all-namespaces=true", "--concurrent=4", "--log-level=info",
	); err != nil {
		return err
	}
	if err := e.create(ctx, helmRepositories, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
		"metadata": map[string]any{"name": "peers-charts", "namespace": "flux-system"},
		"spec":     map[string]any{"url": e.charts, "interval": "1m"},
	}); err != nil {
		return err
	}
	if err := e.create(ctx, helmReleases, map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": "flux-helm-app", "namespace": "flux-system"},
		"spec": map[string]any{
			"interval":        "1m",
			"targetNamespace": "flux-demo",
			"releaseName":     "flux-helm-app", // else <targetNamespace>-<name>
			"chart": map[string]any{"spec": map[string]any{
				"chart": "app", "version": "0.1.0",
				"sourceRef": map[string]any{"kind": "HelmRepository", "name": "peers-charts"},
			}},
		},
	}); err != nil {
		return err
	}
	d, err := e.waitFor(ctx, timeout, helmReleases, "flux-system", "flux-helm-app", readyCondition)
	if err != nil {
		return err
	}
	logf("flux-helm: HelmRelease Ready after %s", d.Round(time.Millisecond))
	if _, err := e.kube.CoreV1().ConfigMaps("flux-demo").Get(ctx, "flux-helm-app", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("the HelmRelease is Ready but its ConfigMap: %w", err)
	}
	logf("flux-helm: ConfigMap flux-demo/flux-helm-app installed")
	return nil
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

// argocd starts Redis, argocd-repo-server and argocd-application-controller the way Argo CD's
// own Procfile runs them locally (ARGOCD_FAKE_IN_CLUSTER: the in-cluster destination is the
// kubeconfig's cluster), with Argo CD's base configuration (manifests/base/config) applied, and
// syncs one Application with automated sync.
func (e *env) argocd(ctx context.Context, bins map[string]built, timeout time.Duration) error {
	ac, redis := bins["argocd"], bins["redis"]
	if ac.bin == "" || redis.bin == "" {
		return errors.New("argocd or redis was not built")
	}
	dir, err := modDir("github.com/argoproj/argo-cd/v3", ac.version)
	if err != nil {
		return err
	}
	if err := e.kubectl("apply", "--server-side", "-k", filepath.Join(dir, "manifests", "crds")); err != nil {
		return err
	}
	if err := e.established(ctx, "applications.argoproj.io", "appprojects.argoproj.io"); err != nil {
		return err
	}
	for _, ns := range []string{"argocd", "argocd-demo"} {
		if err := e.namespace(ctx, ns); err != nil {
			return err
		}
	}
	if err := e.kubectl("apply", "--server-side", "-n", "argocd", "-k", filepath.Join(dir, "manifests", "base", "config")); err != nil {
		return err
	}
	if err := e.create(ctx, appProjects, map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject",
		"metadata": map[string]any{"name": "default", "namespace": "argocd"},
		"spec": map[string]any{
			"sourceRepos":              []any{"*"},
			"destinations":             []any{map[string]any{"server": "*", "namespace": "*"}},
			"clusterResourceWhitelist": []any{map[string]any{"group": "*", "kind": "*"}},
		},
	}); err != nil {
		return err
	}
	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	redisAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	if err := e.start("redis", nil, redis.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
		"--save", "", "--appendonly", "no", "--dir", e.dir); err != nil {
		return err
	}
	local := filepath.Join(e.dir, "argocd-local")
	environ := []string{
		"KUBECONFIG=" + e.stack.Kubeconfig(), "ARGOCD_FAKE_IN_CLUSTER=true", "ARGOCD_GPG_ENABLED=false",
		"ARGOCD_TLS_DATA_PATH=" + filepath.Join(local, "tls"), "ARGOCD_SSH_DATA_PATH=" + filepath.Join(local, "ssh"),
		"ARGOCD_GNUPGHOME=" + filepath.Join(local, "gpg", "keys"), "ARGOCD_GPG_DATA_PATH=" + filepath.Join(local, "gpg", "source"),
	}
	// argocd-repo-server clones into $TMPDIR/_argocd-repo.
	environ = append(environ, "TMPDIR="+filepath.Join(local, "tmp"))
	for _, d := range []string{"tls", "ssh", "gpg/keys", "gpg/source", "tmp"} {
		if err := os.MkdirAll(filepath.Join(local, d), 0o700); err != nil {
			return err
		}
	}
	binDir := filepath.Dir(ac.bin)
	// hack/build-peers.sh put Argo CD's git-verify-wrapper.sh beside the binary; with the helm and
	// kustomize it built, that is what Argo CD's image has on PATH.
	path := []string{binDir}
	for _, tool := range []string{"helm", "kustomize"} {
		if b := bins[tool]; b.bin != "" {
			path = append(path, filepath.Dir(b.bin))
		}
	}
	environ = append(environ, "PATH="+strings.Join(append(path, os.Getenv("PATH")), string(os.PathListSeparator)))
	repoAddr := "127.0.0.1:" + strconv.Itoa(ports[1])
	if err := e.start("argocd-repo-server", environ, filepath.Join(binDir, "argocd-repo-server"),
		"--address", "127.0.0.1", "--port", strconv.Itoa(ports[1]),
		"--metrics-address", "127.0.0.1", "--metrics-port", strconv.Itoa(ports[2]),
		"--redis", redisAddr, "--loglevel", "info",
	); err != nil {
		return err
	}
	if err := e.start("argocd-application-controller", environ, filepath.Join(binDir, "argocd-application-controller"),
		"--namespace", "argocd", "--repo-server", repoAddr, "--redis", redisAddr,
		"--metrics-port", strconv.Itoa(ports[3]), "--status-processors", "20", "--operation-processors", "10",
		"--loglevel", "info",
	); err != nil {
		return err
	}
	if err := e.argocdApp(ctx, timeout, "argocd-app", map[string]any{"repoURL": e.repo.URL(), "targetRevision": "main", "path": "argocd/app"}); err != nil {
		return err
	}
	if bins["kustomize"].bin != "" {
		if err := e.argocdApp(ctx, timeout, "argocd-kustomize-app", map[string]any{"repoURL": e.repo.URL(), "targetRevision": "main", "path": "argocd/kustomize"}); err != nil {
			return err
		}
	}
	if bins["helm"].bin != "" {
		// The chart's ConfigMap is named after the release, which is the Application's name.
		if err := e.argocdApp(ctx, timeout, "argocd-helm-app", map[string]any{"repoURL": e.charts, "chart": "app", "targetRevision": "0.1.0"}); err != nil {
			return err
		}
	}
	return nil
}

// argocdApp creates an Application with automated sync in the in-cluster destination's
// argocd-demo namespace and waits for it to be Synced and Healthy and its ConfigMap (named like
// the Application) to exist.
func (e *env) argocdApp(ctx context.Context, timeout time.Duration, name string, source map[string]any) error {
	if err := e.create(ctx, applications, map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "argocd"},
		"spec": map[string]any{
			"project":     "default",
			"source":      source,
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "argocd-demo"},
			"syncPolicy":  map[string]any{"automated": map[string]any{"prune": true, "selfHeal": true}},
		},
	}); err != nil {
		return err
	}
	d, err := e.waitFor(ctx, timeout, applications, "argocd", name, func(u *unstructured.Unstructured) (bool, string) {
		sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		health, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		return sync == "Synced" && health == "Healthy", fmt.Sprintf("sync=%q health=%q conditions=%v", sync, health, conds)
	})
	if err != nil {
		return err
	}
	logf("argocd: Application %s Synced and Healthy after %s", name, d.Round(time.Millisecond))
	if _, err := e.kube.CoreV1().ConfigMaps("argocd-demo").Get(ctx, name, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("the Application %s is Synced but its ConfigMap: %w", name, err)
	}
	logf("argocd: ConfigMap argocd-demo/%s applied", name)
	return nil
}
