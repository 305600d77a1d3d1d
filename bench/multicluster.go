package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// scenarioTwoClusters spreads the Applications over the cluster Ferry runs in and a second one.
const scenarioTwoClusters = "controller-2clusters"

// secondCluster is the Cluster the odd Applications of the two-cluster scenario deploy to.
const secondCluster = "bench-second"

// twoClusterScenario: n Applications of ObjectsPerApp objects from one monorepo, the even ones
// deploying to the cluster Ferry runs in and the odd ones to a second control plane registered
// as a Cluster. It times the initial sync, a commit touching every path, and the second
// cluster's outage: how long until its Applications are all Unknown, and Synced again once it is
// back.
func (b *bench) twoClusterScenario(ctx context.Context, n int) error {
	cfg := b.cfg
	b.logf("%s: starting a second control plane (etcd, kube-apiserver, kube-controller-manager)", scenarioTwoClusters)
	second, err := localstack.Start(localstack.Options{NoNode: true})
	if err != nil {
		return err
	}
	defer second.Stop()

	tmp, err := os.MkdirTemp("", "ferry-bench-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	program := &gittest.Program{Dir: tmp}
	defer program.Close()
	srv := gittest.NewServer(program)
	repo := srv.NewRepo("monorepo")
	files := map[string]string{}
	for i := range n {
		for name, content := range appObjects(func(name string) string { return objectName(i, name) }, cfg.ObjectsPerApp, "v1") {
			files[appPath(i)+"/"+name] = content
		}
	}
	first := repo.Commit("main", files, "the monorepo")

	b.logf("%s: restarting ferry-apiserver with the controller (--controller-workers=%d)", scenarioTwoClusters, cfg.Workers)
	if err := b.stack.RestartFerry(b.ferryBin, fmt.Sprintf("--controller-workers=%d", cfg.Workers), "--cluster-probe-interval=5s"); err != nil {
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
	remote, err := kubernetes.NewForConfig(second.RestConfig("admin"))
	if err != nil {
		return err
	}
	ns := fmt.Sprintf("bench-2c-%d", n)
	for _, k := range []kubernetes.Interface{kube, remote} {
		if _, err := k.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		if err := bindDeployer(ctx, k, ns); err != nil {
			return err
		}
	}
	defer b.cleanupController(context.WithoutCancel(ctx), ferry, kube, ns, n, false)
	if err := registerSecond(ctx, kube, ferry, second); err != nil {
		return err
	}
	defer func() {
		_ = ferry.GitopsV1alpha1().Clusters().Delete(context.WithoutCancel(ctx), secondCluster, metav1.DeleteOptions{})
	}()

	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	tr, err := track(trackCtx, ferry, ns)
	if err != nil {
		return err
	}
	apps := ferry.GitopsV1alpha1().Applications(ns)
	row := func(metric, unit string, v float64, target, note string) {
		b.report.add(Row{Scenario: scenarioTwoClusters, Metric: metric, Size: n, Unit: unit, Values: map[string]float64{"ferry": v}, Target: target, Note: note})
	}

	before, err := sampleProcess(pid)
	if err != nil {
		return err
	}
	fetchesBefore := srv.CountRequests("POST /monorepo.git/git-upload-pack")
	b.logf("%s: creating %d Applications, half of them on %s", scenarioTwoClusters, n, secondCluster)
	start := time.Now()
	if _, err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		app := benchApp(ns, i, repo.URL(), n, cfg.Interval)
		if i%2 == 1 {
			app.Spec.Destination.Cluster = secondCluster
		}
		_, err := apps.Create(ctx, app, metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	syncedAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, first, false))
	if err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}
	after, _ := sampleProcess(pid)
	b.logf("%s: %d Applications synced in %s", scenarioTwoClusters, n, syncedAt.Sub(start).Round(time.Millisecond))
	row("create all -> all Synced", "s", seconds(syncedAt.Sub(start)), "", fmt.Sprintf("%d objects, half on each cluster", n*cfg.ObjectsPerApp))
	row("Git fetches for the initial sync", "fetches", float64(srv.CountRequests("POST /monorepo.git/git-upload-pack")-fetchesBefore), "1", "")
	row("ferry-apiserver CPU for the initial sync", "CPU-s", seconds(after.CPU-before.CPU), "", "")
	row("ferry-apiserver peak RSS", "MiB", mib(after.PeakRSS), rssTarget(n), "two clusters' watches and clients")

	changed := map[string]string{}
	for i := range n {
		changed[appPath(i)+"/cm-0.yaml"] = configMap(objectName(i, "cm-0"), "v2")
	}
	next := repo.Commit("main", changed, "touch every path")
	b.logf("%s: a commit touching all %d paths; requesting a sync of each", scenarioTwoClusters, n)
	start = time.Now()
	if _, err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		_, err := apps.Sync(ctx, appName(i), &gitopsv1alpha1.ApplicationSync{ObjectMeta: metav1.ObjectMeta{Name: appName(i)}}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) {
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	appliedAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, next, false))
	if err != nil {
		return fmt.Errorf("after the commit: %w", err)
	}
	row("commit touching all paths -> applied everywhere", "s", seconds(appliedAt.Sub(start)), commitTarget(n), "both clusters")

	b.logf("%s: killing %s's kube-apiserver", scenarioTwoClusters, secondCluster)
	killed := time.Now()
	if err := second.Kill("kube-apiserver"); err != nil {
		return err
	}
	unknownAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, func(all map[string]*gitopsv1alpha1.Application) (bool, string) {
		unknown := 0
		for i := 1; i < n; i += 2 {
			if a := all[appName(i)]; a != nil && a.Status.Sync.Status == gitopsv1alpha1.SyncStatusUnknown {
				unknown++
			}
		}
		return unknown == n/2, fmt.Sprintf("%d of %d Applications of %s Unknown", unknown, n/2, secondCluster)
	})
	if err != nil {
		return fmt.Errorf("outage: %w", err)
	}
	row("second cluster down -> its Applications all Unknown", "s", seconds(unknownAt.Sub(killed)), "", "--cluster-probe-interval=5s")
	back := time.Now()
	if err := second.StartAgain(ctx, "kube-apiserver"); err != nil {
		return err
	}
	recoveredAt, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, next, false))
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	row("second cluster back -> all Synced", "s", seconds(recoveredAt.Sub(back)), "", "kube-apiserver start included")
	return nil
}

// registerSecond registers the second control plane as Cluster secondCluster and waits until it
// is Ready.
func registerSecond(ctx context.Context, kube kubernetes.Interface, ferry versioned.Interface, second *localstack.Stack) error {
	ca, err := os.ReadFile(filepath.Join(second.Dir, "pki", "ca.crt"))
	if err != nil {
		return err
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secondCluster + "-credentials", Namespace: "ferry-system"},
		StringData: map[string]string{gitopsv1alpha1.ClusterTokenKey: second.Token("admin")}}
	if _, err := kube.CoreV1().Secrets("ferry-system").Create(ctx, secret, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	cluster := &gitopsv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: secondCluster},
		Spec: gitopsv1alpha1.ClusterSpec{Server: "https://127.0.0.1:" + second.Env["KUBE_PORT"], CABundle: ca,
			CredentialsRef: gitopsv1alpha1.LocalObjectReference{Name: secret.Name}}}
	if _, err := ferry.GitopsV1alpha1().Clusters().Create(ctx, cluster, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		c, err := ferry.GitopsV1alpha1().Clusters().Get(ctx, secondCluster, metav1.GetOptions{})
		if err == nil {
			for _, cond := range c.Status.Conditions {
				if cond.Type == gitopsv1alpha1.ClusterConditionReady && cond.Status == metav1.ConditionTrue {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster %s did not become Ready within a minute", secondCluster)
}
