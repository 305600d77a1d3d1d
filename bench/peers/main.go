// Command peers starts the GitOps tools Ferry is measured against (issue 31), built by
// hack/build-peers.sh, as local processes against a local kube-apiserver, and checks that each
// brings one app from a local Git server to Ready (Flux: a GitRepository and a Kustomization) or
// Synced and Healthy (Argo CD: an Application). It is the foundation of `go run ./bench -peers`:
// every flag and setting it gives a peer is written down in bench/peers/CONFIG.md. Starting the
// peers is bench/internal/peers, which the benchmark driver uses too.
//
//	go run ./bench/peers                 # both
//	go run ./bench/peers -peers flux     # one
//	go run ./bench/peers -reuse .dev     # on make dev-up's stack instead of a new one
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/bench/internal/peers"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts/charttest"
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

func logf(format string, args ...any) { peers.Logf(format, args...) }

// env is the demo: the peers' Env, a Git repository and a Helm chart repository.
type env struct {
	*peers.Env
	repo *gittest.Repo
	// charts is the URL of a Helm chart repository on 127.0.0.1 serving the chart "app".
	charts string
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
		names = append(names, peers.FluxBinaries...)
	}
	if want["flux-helm"] {
		names = append(names, "helm-controller")
	}
	if want["argocd"] {
		names = append(names, peers.ArgoCDBinaries...)
	}
	bins, err := peers.Build(root, names...)
	if err != nil {
		return err
	}

	var stack *localstack.Stack
	if reuse != "" {
		stack, err = localstack.Attach(reuse)
	} else {
		logf("starting a local control plane (no Ferry, no Node)")
		stack, err = localstack.Start(localstack.Options{NoNode: true, Keep: keep})
	}
	if err != nil {
		return err
	}
	if !keep {
		defer stack.Stop()
	}
	pe, err := peers.NewEnv(stack, "")
	if err != nil {
		return err
	}
	e := &env{Env: pe}
	logf("peers' logs and state in %s", e.Dir)
	defer func() {
		if !keep {
			e.Stop()
		}
	}()

	program := &gittest.Program{Dir: e.Dir}
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
	// A Helm chart repository (index.yaml and the packaged chart) on 127.0.0.1: Flux reads it
	// through a HelmRepository, Argo CD through an Application whose source is a chart.
	charts := charttest.NewRepo(program, "", "")
	charts.Publish(program, chartFiles)
	e.charts = charts.URL
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
		logf("left running: the stack in %s (hack/local-down.sh with FERRY_DEV_DIR to stop), peers' pids in %s/pids", stack.Dir, e.Dir)
		e.writePids()
	}
	if len(failed) > 0 {
		return fmt.Errorf("%s did not sync (logs in %s)", strings.Join(failed, ", "), e.Dir)
	}
	if !keep {
		e.Scratch(e.Dir)
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

// chartFiles is the chart "app" 0.1.0: one ConfigMap named after the release.
var chartFiles = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: app\nversion: 0.1.0\n",
	"values.yaml": "revision: v1\n",
	"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n" +
		"data:\n  revision: {{ .Values.revision | quote }}\n",
}

// reportRSS prints each peer process's resident memory now, once its app is synced: a first
// look at what the benchmark's peak RSS column will hold.
func (e *env) reportRSS() {
	for _, p := range e.Processes() {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
				logf("%s: %s %s kB", p.Name, strings.TrimSuffix(f[0], ":"), f[1])
			}
		}
	}
}

func (e *env) writePids() {
	var b strings.Builder
	for _, p := range e.Processes() {
		fmt.Fprintf(&b, "%d %s\n", p.Cmd.Process.Pid, p.Name)
	}
	_ = os.WriteFile(filepath.Join(e.Dir, "pids"), []byte(b.String()), 0o644)
}

// flux starts source-controller and kustomize-controller (bench/internal/peers) and syncs one
// GitRepository + Kustomization.
func (e *env) flux(ctx context.Context, bins map[string]peers.Built, timeout time.Duration) error {
	if _, err := e.StartFlux(ctx, bins, peers.FluxOptions{}); err != nil {
		return err
	}
	if err := e.Namespace(ctx, "flux-demo"); err != nil {
		return err
	}
	if err := e.Create(ctx, peers.GitRepositories, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "peers", "namespace": peers.FluxNamespace},
		"spec":     map[string]any{"url": e.repo.URL(), "ref": map[string]any{"branch": "main"}, "interval": "1m"},
	}); err != nil {
		return err
	}
	if err := e.Create(ctx, peers.Kustomizations, map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "flux-app", "namespace": peers.FluxNamespace},
		"spec": map[string]any{
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "peers"},
			"path":      "./flux/app", "prune": true, "interval": "1m",
		},
	}); err != nil {
		return err
	}
	d, err := e.WaitFor(ctx, timeout, peers.GitRepositories, peers.FluxNamespace, "peers", peers.ReadyCondition)
	if err != nil {
		return err
	}
	logf("flux: GitRepository Ready after %s", d.Round(time.Millisecond))
	d, err = e.WaitFor(ctx, timeout, peers.Kustomizations, peers.FluxNamespace, "flux-app", peers.ReadyCondition)
	if err != nil {
		return err
	}
	logf("flux: Kustomization Ready after %s more", d.Round(time.Millisecond))
	if _, err := e.Kube.CoreV1().ConfigMaps("flux-demo").Get(ctx, "flux-app", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("the Kustomization is Ready but its ConfigMap: %w", err)
	}
	logf("flux: ConfigMap flux-demo/flux-app applied")
	return nil
}

// fluxHelm starts helm-controller beside flux's source-controller and installs one HelmRelease
// of the chart repository's chart (source-controller fetches it through a HelmRepository).
func (e *env) fluxHelm(ctx context.Context, bins map[string]peers.Built, timeout time.Duration) error {
	if _, err := e.StartHelmController(ctx, bins, peers.FluxOptions{}); err != nil {
		return err
	}
	if err := e.Create(ctx, peers.HelmRepositories, map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
		"metadata": map[string]any{"name": "peers-charts", "namespace": "flux-system"},
		"spec":     map[string]any{"url": e.charts, "interval": "1m"},
	}); err != nil {
		return err
	}
	if err := e.Create(ctx, peers.HelmReleases, map[string]any{
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
	d, err := e.WaitFor(ctx, timeout, peers.HelmReleases, "flux-system", "flux-helm-app", peers.ReadyCondition)
	if err != nil {
		return err
	}
	logf("flux-helm: HelmRelease Ready after %s", d.Round(time.Millisecond))
	if _, err := e.Kube.CoreV1().ConfigMaps("flux-demo").Get(ctx, "flux-helm-app", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("the HelmRelease is Ready but its ConfigMap: %w", err)
	}
	logf("flux-helm: ConfigMap flux-demo/flux-helm-app installed")
	return nil
}

// argocd starts Argo CD (bench/internal/peers) and syncs one Application of each kind of
// source: a directory, a kustomize overlay, a chart.
func (e *env) argocd(ctx context.Context, bins map[string]peers.Built, timeout time.Duration) error {
	if _, err := e.StartArgoCD(ctx, bins, peers.ArgoCDOptions{}); err != nil {
		return err
	}
	if err := e.Namespace(ctx, "argocd-demo"); err != nil {
		return err
	}
	if err := e.argocdApp(ctx, timeout, "argocd-app", map[string]any{"repoURL": e.repo.URL(), "targetRevision": "main", "path": "argocd/app"}); err != nil {
		return err
	}
	if bins["kustomize"].Bin != "" {
		if err := e.argocdApp(ctx, timeout, "argocd-kustomize-app", map[string]any{"repoURL": e.repo.URL(), "targetRevision": "main", "path": "argocd/kustomize"}); err != nil {
			return err
		}
	}
	if bins["helm"].Bin != "" {
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
	if err := e.Create(ctx, peers.Applications, map[string]any{
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
	d, err := e.WaitFor(ctx, timeout, peers.Applications, "argocd", name, func(u *unstructured.Unstructured) (bool, string) {
		sync, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		health, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		return sync == "Synced" && health == "Healthy", fmt.Sprintf("sync=%q health=%q conditions=%v", sync, health, conds)
	})
	if err != nil {
		return err
	}
	logf("argocd: Application %s Synced and Healthy after %s", name, d.Round(time.Millisecond))
	if _, err := e.Kube.CoreV1().ConfigMaps("argocd-demo").Get(ctx, name, metav1.GetOptions{}); err != nil {
		return fmt.Errorf("the Application %s is Synced but its ConfigMap: %w", name, err)
	}
	logf("argocd: ConfigMap argocd-demo/%s applied", name)
	return nil
}
