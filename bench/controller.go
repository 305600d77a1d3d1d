package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	waitpkg "k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// Layouts of the controller scenario's monorepo.
const (
	// layoutPlain gives each Application a directory of its own manifests.
	layoutPlain = "controller"
	// layoutKustomize gives each Application an overlay of one shared base (namePrefix), as
	// teams deploy many instances of one service; the scenario is called controller-kustomize.
	layoutKustomize = "controller-kustomize"
)

// controllerScenario syncs n Applications, each a path of one monorepo with ObjectsPerApp
// objects (in the given layout), and measures the initial sync, a commit touching every path,
// the idle cost, drift detection and self-heal, and /diff of a large Application.
// The scenarios share namespace names: unless last, one waits for its namespaces to go.
func (b *bench) controllerScenario(ctx context.Context, n int, layout string, last bool) error {
	cfg := b.cfg
	tmp, err := os.MkdirTemp("", "ferry-bench-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	program := &gittest.Program{Dir: tmp}
	defer program.Close()
	srv := gittest.NewServer(program)
	repo := srv.NewRepo("monorepo")
	b.logf("controller: committing %d paths x %d objects (+ apps/big with %d) to a Git server on %s", n, cfg.ObjectsPerApp, cfg.DiffObjects, srv.URL())
	files := map[string]string{}
	if layout == layoutKustomize {
		base := appObjects(func(name string) string { return name }, cfg.ObjectsPerApp, "v1")
		var resources []string
		for name, content := range base {
			files["bases/web/"+name] = content
			resources = append(resources, name)
		}
		files["bases/web/kustomization.yaml"] = "resources: [" + strings.Join(resources, ", ") + "]\n"
		for i := range n {
			files[appPath(i)+"/kustomization.yaml"] = overlay(i, "")
		}
	} else {
		for i := range n {
			for name, content := range appObjects(func(name string) string { return objectName(i, name) }, cfg.ObjectsPerApp, "v1") {
				files[appPath(i)+"/"+name] = content
			}
		}
	}
	for j := range cfg.DiffObjects {
		files[fmt.Sprintf("apps/big/cm-%03d.yaml", j)] = configMap(fmt.Sprintf("big-%03d", j), "v1")
	}
	first := repo.Commit("main", files, "the monorepo")

	// A fresh ferry-apiserver with its controller: CPU time and peak RSS count from zero.
	b.logf("controller: restarting ferry-apiserver with the controller (--controller-workers=%d)", cfg.Workers)
	if err := b.stack.RestartFerry(b.ferryBin, fmt.Sprintf("--controller-workers=%d", cfg.Workers)); err != nil {
		return err
	}
	pid, err := b.stack.Pid("ferry-apiserver")
	if err != nil {
		return err
	}
	admin := b.stack.RestConfig("admin")
	admin.QPS, admin.Burst = -1, -1
	ferry, err := versioned.NewForConfig(admin)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	ns := fmt.Sprintf("bench-ctrl-%d", n)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	defer b.cleanupController(context.WithoutCancel(ctx), ferry, kube, ns, n, !last)
	// The Applications name no ServiceAccount, so they act as the namespace's default one, as a
	// platform team's deployer would: bound to cluster-admin, since they create namespaces.
	if err := bindDeployer(ctx, kube, ns); err != nil {
		return err
	}
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	tr, err := track(trackCtx, ferry, ns)
	if err != nil {
		return err
	}
	apps := ferry.GitopsV1alpha1().Applications(ns)
	row := func(metric, unit string, v float64, target, note string) {
		b.report.add(Row{Scenario: layout, Metric: metric, Size: n, Unit: unit, Values: map[string]float64{"ferry": v}, Target: target, Note: note})
	}

	// 1. Create all, until all are Synced (and Healthy).
	if cfg.ProfileDir != "" {
		go b.profile(ctx, fmt.Sprintf("controller-%d", n))
	}
	before, err := sampleProcess(pid)
	if err != nil {
		return err
	}
	fetchesBefore, listsBefore := srv.CountRequests("POST /monorepo.git/git-upload-pack"), srv.CountRequests("GET /monorepo.git/info/refs")
	b.logf("controller: creating %d Applications", n)
	start := time.Now()
	if _, err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		_, err := apps.Create(ctx, benchApp(ns, i, repo.URL(), n, cfg.Interval), metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	created := time.Since(start)
	syncedAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, first, false))
	if err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}
	syncTime := syncedAt.Sub(start)
	healthyAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, first, true))
	if err != nil {
		return fmt.Errorf("initial sync, health: %w", err)
	}
	after, err := sampleProcess(pid)
	if err != nil {
		return err
	}
	b.logf("controller: %d Applications synced in %s (created in %s), healthy in %s", n, syncTime.Round(time.Millisecond), created.Round(time.Millisecond), healthyAt.Sub(start).Round(time.Millisecond))
	row("create all -> all Synced", "s", seconds(syncTime), syncTarget(layout, n), fmt.Sprintf("%d objects; creating the Applications took %.1f s", n*cfg.ObjectsPerApp, seconds(created)))
	row("create all -> all Healthy", "s", seconds(healthyAt.Sub(start)), "", "Deployments have 0 replicas, so kstatus can call them Current without a kubelet")
	row("Git fetches for the initial sync", "fetches", float64(srv.CountRequests("POST /monorepo.git/git-upload-pack")-fetchesBefore), "1", "")
	row("Git ref listings for the initial sync", "requests", float64(srv.CountRequests("GET /monorepo.git/info/refs")-listsBefore), "", "a fetch also starts with one")
	row("ferry-apiserver CPU for the initial sync", "CPU-s", seconds(after.CPU-before.CPU), "", "")
	row("ferry-apiserver peak RSS", "MiB", mib(after.PeakRSS), rssTarget(n), "VmHWM since the restart before this scenario")

	// 2. Idle: nothing changes; count status writes and CPU.
	b.logf("controller: idle for %s", cfg.Idle)
	idleBefore, _ := sampleProcess(pid)
	writesBefore := tr.modified.Load()
	select {
	case <-time.After(cfg.Idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	idleAfter, _ := sampleProcess(pid)
	writes := tr.modified.Load() - writesBefore
	row("idle CPU", "% of a core", 100*seconds(idleAfter.CPU-idleBefore.CPU)/cfg.Idle.Seconds(), "< 2%", fmt.Sprintf("over %s", cfg.Idle))
	row("idle status writes", "per min", float64(writes)/cfg.Idle.Minutes(), "0", "")

	// 3. Drift: edit a managed ConfigMap by hand.
	b.logf("controller: %d manual edits, timing OutOfSync and self-heal", min(cfg.DriftEdits, n))
	var detect, heal []time.Duration
	edits := min(cfg.DriftEdits, n)
	for e := range edits {
		// Distinct Applications, alternately self-healing (every tenth is) and not.
		i := e*(n/edits) + e%2
		if e%2 == 0 {
			i -= i % 10
		}
		i %= n
		selfHeal := i%10 == 0
		dest := appNamespace(n, i)
		var w watch.Interface
		if selfHeal {
			if w, err = kube.CoreV1().ConfigMaps(dest).Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", objectName(i, "cm-0")).String()}); err != nil {
				return err
			}
		}
		edited := time.Now()
		if _, err := kube.CoreV1().ConfigMaps(dest).Patch(ctx, objectName(i, "cm-0"), types.MergePatchType, []byte(`{"data":{"key0":"edited by hand"}}`), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("editing a managed ConfigMap: %w", err)
		}
		edited = edited.Add(time.Since(edited) / 2)
		if !selfHeal {
			at, err := tr.waitApp(ctx, appName(i), time.Minute, func(a *gitopsv1alpha1.Application) bool {
				return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusOutOfSync
			})
			if err != nil {
				return fmt.Errorf("drift: %w", err)
			}
			detect = append(detect, at.Sub(edited))
			continue
		}
		restored, err := waitRestored(ctx, w, time.Minute)
		w.Stop()
		if err != nil {
			return fmt.Errorf("self-heal of %s: %w", appName(i), err)
		}
		heal = append(heal, restored.Sub(edited))
	}
	if len(detect) > 0 {
		row("drift -> OutOfSync p50", "ms", ms(percentile(detect, 50)), "", fmt.Sprintf("%d edits", len(detect)))
		row("drift -> OutOfSync p99", "ms", ms(percentile(detect, 99)), "< 250 ms", "")
	}
	if len(heal) > 0 {
		row("drift -> self-healed p50", "ms", ms(percentile(heal, 50)), "", fmt.Sprintf("%d edits", len(heal)))
		row("drift -> self-healed p99", "ms", ms(percentile(heal, 99)), "< 500 ms", "")
	}

	// 4. A commit touching every path, each Application asked to sync at once.
	changed := map[string]string{}
	for i := range n {
		if layout == layoutKustomize {
			changed[appPath(i)+"/kustomization.yaml"] = overlay(i, "v2")
		} else {
			changed[appPath(i)+"/cm-0.yaml"] = configMap(objectName(i, "cm-0"), "v2")
		}
	}
	second := repo.Commit("main", changed, "touch every path")
	fetchesBefore = srv.CountRequests("POST /monorepo.git/git-upload-pack")
	cpuBefore, _ := sampleProcess(pid)
	b.logf("controller: a commit touching all %d paths; requesting a sync of each", n)
	start = time.Now()
	if _, err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		_, err := apps.Sync(ctx, appName(i), &gitopsv1alpha1.ApplicationSync{ObjectMeta: metav1.ObjectMeta{Name: appName(i)}}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) {
			return nil // an automated sync of the new commit already runs
		}
		return err
	}); err != nil {
		return err
	}
	appliedAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, second, false))
	if err != nil {
		return fmt.Errorf("after the commit: %w", err)
	}
	cpuAfter, _ := sampleProcess(pid)
	row("commit touching all paths -> applied everywhere", "s", seconds(appliedAt.Sub(start)), commitTarget(n), "a sync requested of every Application right after the push")
	row("Git fetches for that commit", "fetches", float64(srv.CountRequests("POST /monorepo.git/git-upload-pack")-fetchesBefore), "1", "")
	row("ferry-apiserver CPU for that commit", "CPU-s", seconds(cpuAfter.CPU-cpuBefore.CPU), "", "")

	// 5. /diff of an Application with DiffObjects objects, warm.
	b.logf("controller: /diff of an Application with %d objects, %d requests", cfg.DiffObjects, cfg.DiffRequests)
	big := benchApp(ns, -1, repo.URL(), n, cfg.Interval)
	if _, err := apps.Create(ctx, big, metav1.CreateOptions{}); err != nil {
		return err
	}
	if _, err := tr.waitApp(ctx, big.Name, cfg.Timeout, func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Sync.Revision == second
	}); err != nil {
		return err
	}
	var diffs []time.Duration
	for r := range cfg.DiffRequests + 1 {
		var d *gitopsv1alpha1.ApplicationDiff
		took, err := timed(func() (err error) {
			d, err = apps.Diff(ctx, big.Name, gitopsv1alpha1.ApplicationDiffOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("/diff: %w", err)
		}
		if int(d.Summary.None) != cfg.DiffObjects {
			return fmt.Errorf("/diff of a synced Application: %+v, want %d unchanged", d.Summary, cfg.DiffObjects)
		}
		if r > 0 { // the first request warms the caches
			diffs = append(diffs, took)
		}
	}
	b.report.add(Row{Scenario: "controller", Metric: "/diff p50", Size: cfg.DiffObjects, Unit: "ms", Values: map[string]float64{"ferry": ms(percentile(diffs, 50))}, Note: "objects in the Application"})
	b.report.add(Row{Scenario: "controller", Metric: "/diff p99", Size: cfg.DiffObjects, Unit: "ms", Values: map[string]float64{"ferry": ms(percentile(diffs, 99))}, Target: "< 500 ms warm"})
	return nil
}

// cleanupController deletes the scenario's Applications (keeping their objects: deleting the
// namespaces is quicker than pruning one by one) and namespaces and, when another scenario
// follows, waits until they are gone so that it starts on a quiet cluster.
func (b *bench) cleanupController(ctx context.Context, ferry versioned.Interface, kube kubernetes.Interface, ns string, n int, wait bool) {
	b.logf("controller: cleaning up the scenario's namespaces")
	if err := ferry.GitopsV1alpha1().Applications(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		b.logf("deleting the Applications: %v", err)
	}
	if err := kube.RbacV1().ClusterRoleBindings().Delete(ctx, deployerBinding(ns), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		b.logf("deleting the deployer's ClusterRoleBinding: %v", err)
	}
	names := []string{ns, appNamespace(n, -1)}
	for i := 0; i < n; i += appsPerNamespace {
		names = append(names, appNamespace(n, i))
	}
	_, _ = b.parallel(ctx, len(names), func(ctx context.Context, i int) error {
		err := kube.CoreV1().Namespaces().Delete(ctx, names[i], metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
	if !wait {
		return
	}
	err := waitpkg.PollUntilContextTimeout(ctx, time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		left := 0
		for _, item := range list.Items {
			if strings.HasPrefix(item.Name, fmt.Sprintf("bench-n%d-", n)) || item.Name == ns {
				left++
			}
		}
		return left == 0, nil
	})
	if err != nil {
		b.logf("the namespaces of the scenario are not all gone: %v", err)
	}
}

// allAt is the condition "all n Applications Synced at revision sha" (and Healthy).
func allAt(n int, sha string, healthy bool) func(map[string]*gitopsv1alpha1.Application) (bool, string) {
	return func(apps map[string]*gitopsv1alpha1.Application) (bool, string) {
		done := 0
		for i := range n {
			a := apps[appName(i)]
			if a == nil || a.Status.ObservedGeneration != a.Generation ||
				a.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced || a.Status.Sync.Revision != sha {
				continue
			}
			if healthy && a.Status.Health.Status != gitopsv1alpha1.HealthHealthy {
				continue
			}
			done++
		}
		what := "Synced"
		if healthy {
			what = "Synced and Healthy"
		}
		return done == n, fmt.Sprintf("%d of %d Applications %s at %.12s", done, n, what, sha)
	}
}

// waitRestored waits for the watched ConfigMap to lose the hand edit.
func waitRestored(ctx context.Context, w watch.Interface, timeout time.Duration) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return time.Time{}, fmt.Errorf("the watch closed")
			}
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && cm.Data["key0"] != "edited by hand" && ev.Type == watch.Modified {
				return time.Now(), nil
			}
		case <-deadline:
			return time.Time{}, fmt.Errorf("not restored within %s", timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

func appPath(i int) string { return fmt.Sprintf("apps/app-%05d", i) }

// appsPerNamespace Applications deploy into each namespace, as teams share namespaces; one
// namespace per Application would mostly measure kube-controller-manager deleting them.
const appsPerNamespace = 10

// appNamespace is where Application i of the size-n scenario deploys; -1 is the big one.
func appNamespace(n, i int) string {
	if i < 0 {
		return fmt.Sprintf("bench-n%d-big", n)
	}
	return fmt.Sprintf("bench-n%d-ns-%03d", n, i/appsPerNamespace)
}

// objectName is the name of object base of Application i, unique in its namespace.
func objectName(i int, base string) string { return fmt.Sprintf("app-%05d-%s", i, base) }

// benchApp is Application i of the size-n scenario (i = -1: the big one for /diff): automated
// with prune, every tenth one self-healing, its own namespace created on sync.
func benchApp(ns string, i int, repoURL string, n int, interval time.Duration) *gitopsv1alpha1.Application {
	name, path := appName(i), appPath(i)
	if i < 0 {
		name, path = "big", "apps/big"
	}
	var every *metav1.Duration
	if interval > 0 {
		every = &metav1.Duration{Duration: interval}
	}
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Annotations: map[string]string{gitopsv1alpha1.DeletionPolicyAnnotation: gitopsv1alpha1.DeletionPolicyOrphan},
		},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Revision: "main", Path: path},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: appNamespace(n, i)},
			SyncPolicy: gitopsv1alpha1.SyncPolicy{
				Automated:       &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true, SelfHeal: i >= 0 && i%10 == 0},
				CreateNamespace: true,
				Interval:        every,
			},
		},
	}
}

// overlay is Application i's kustomization in the kustomize layout: the shared base, named for
// the Application; with a value, cm-0's key0 patched to it.
func overlay(i int, value string) string {
	k := fmt.Sprintf("resources: [../../bases/web]\nnamePrefix: app-%05d-\n", i)
	if value != "" {
		k += fmt.Sprintf("patches:\n- patch: '{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-0\"},\"data\":{\"key0\":%q}}'\n", value)
	}
	return k
}

// appObjects are the files of an Application's path, each object named by name: ConfigMaps,
// then from the 7th object on headless Services and Deployments of 0 replicas (no kubelet runs
// here) in turn.
func appObjects(name func(string) string, count int, value string) map[string]string {
	files := map[string]string{}
	for j := range count {
		switch {
		case j < 6 || j < count-4:
			files[fmt.Sprintf("cm-%d.yaml", j)] = configMap(name(fmt.Sprintf("cm-%d", j)), value)
		case j%2 == 0:
			files[fmt.Sprintf("svc-%d.yaml", j)] = fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  clusterIP: None
  selector: {app: %[1]s}
  ports: [{name: http, port: 80, targetPort: 8080}]
`, name(fmt.Sprintf("svc-%d", j)))
		default:
			files[fmt.Sprintf("deploy-%d.yaml", j)] = fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 0
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers: [{name: web, image: registry.example.com/web:1.0, ports: [{containerPort: 8080}]}]
`, name(fmt.Sprintf("web-%d", j)))
		}
	}
	return files
}

// configMap is a ConfigMap with four data keys, key0 carrying value.
func configMap(name, value string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data:
  key0: %q
  key1: "some configuration value"
  key2: "another configuration value"
  key3: "and one more"
`, name, value)
}

// The targets of this machine (2 cores, everything on it), as of 2026-11-30.

func syncTarget(layout string, n int) string {
	switch {
	case n == 100 && layout == "controller":
		return "<= 4 s"
	case n == 1000 && layout == "controller":
		return "<= 30 s"
	case n == 1000 && layout == "controller-kustomize":
		return "<= 35 s"
	}
	return ""
}

func rssTarget(n int) string {
	if n == 1000 {
		return "< 300 MiB"
	}
	return ""
}

func commitTarget(n int) string {
	if n == 1000 {
		return "<= 20 s"
	}
	return ""
}

// profile captures CPU profiles of ferry-apiserver and kube-apiserver over the same 30 s, then
// a heap profile of ferry-apiserver, from their /debug/pprof endpoints as the admin user.
func (b *bench) profile(ctx context.Context, name string) {
	if err := os.MkdirAll(b.cfg.ProfileDir, 0o755); err != nil {
		b.logf("profile: %v", err)
		return
	}
	ferry := "https://127.0.0.1:" + b.stack.Env["FERRY_PORT"] + "/debug/pprof/"
	kube := "https://127.0.0.1:" + b.stack.Env["KUBE_PORT"] + "/debug/pprof/"
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.fetchProfile(ctx, kube+"profile?seconds=30", "ca.crt", "kube-apiserver-"+name+".cpu.pprof")
	}()
	if b.fetchProfile(ctx, ferry+"profile?seconds=30", "ferry-ca.crt", name+".cpu.pprof") {
		b.fetchProfile(ctx, ferry+"heap", "ferry-ca.crt", name+".heap.pprof")
	}
	<-done
}

// fetchProfile saves one pprof endpoint's answer into the profile directory; caFile is in the
// stack's pki/.
func (b *bench) fetchProfile(ctx context.Context, url, caFile, file string) bool {
	ca, err := os.ReadFile(filepath.Join(b.stack.Dir, "pki", caFile))
	if err != nil {
		b.logf("profile: %v", err)
		return false
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		b.logf("profile: %v", err)
		return false
	}
	req.Header.Set("Authorization", "Bearer "+b.stack.Token("admin"))
	resp, err := client.Do(req)
	if err != nil {
		b.logf("profile: %v", err)
		return false
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.logf("profile %s: %d %v %s", url, resp.StatusCode, err, data)
		return false
	}
	path := filepath.Join(b.cfg.ProfileDir, file)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.logf("profile: %v", err)
		return false
	}
	b.logf("profile written to %s (go tool pprof -top %s)", path, path)
	return true
}

func deployerBinding(ns string) string { return "ferry-bench-" + ns + "-deployer" }

// bindDeployer makes the default ServiceAccount of ns, which the scenario's Applications act as,
// cluster-admin.
func bindDeployer(ctx context.Context, kube kubernetes.Interface, ns string) error {
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: deployerBinding(ns)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: ns}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("binding the Applications' ServiceAccount: %w", err)
	}
	return nil
}
