package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// scenarioWebhook: n Applications of one monorepo that look at Git once an hour; a signed
// GitHub push touching the paths of ten of them, delivered to a Receiver, makes those ten
// Synced at the pushed commit. Measured: delivery → each of the ten Synced (p50, p99 over
// webhookPushes pushes), and how many Applications each push refreshed (must be ten).
const scenarioWebhook = "webhook"

const (
	webhookPushes  = 5
	webhookTouched = 10
	webhookToken   = "bench-webhook-token"
)

func (b *bench) webhookScenario(ctx context.Context, n int) error {
	cfg := b.cfg
	port := b.stack.Env["FERRY_WEBHOOK_PORT"]
	if port == "" || port == "0" {
		return fmt.Errorf("the stack serves no webhook listener (no FERRY_WEBHOOK_PORT): start a new one")
	}
	tmp, err := os.MkdirTemp("", "ferry-bench-git-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	program := &gittest.Program{Dir: tmp}
	defer program.Close()
	srv := gittest.NewServer(program)
	repo := srv.NewRepo("monorepo")
	// One ConfigMap per Application: the scenario measures hearing a push, not applying.
	files := map[string]string{}
	for i := range n {
		files[appPath(i)+"/cm.yaml"] = configMap(objectName(i, "cm"), "v0")
	}
	first := repo.Commit("main", files, "the monorepo")

	b.logf("webhook: restarting ferry-apiserver with the controller (--controller-workers=%d) and the webhook listener on 127.0.0.1:%s", cfg.Workers, port)
	if err := b.stack.RestartFerry(b.ferryBin, fmt.Sprintf("--controller-workers=%d", cfg.Workers)); err != nil {
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
	ns := fmt.Sprintf("bench-hook-%d", n)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	defer b.cleanupController(context.WithoutCancel(ctx), ferry, kube, ns, n, false)
	if err := bindDeployer(ctx, kube, ns); err != nil {
		return err
	}
	trackCtx, stopTracking := context.WithCancel(ctx)
	defer stopTracking()
	tr, err := track(trackCtx, ferry, ns)
	if err != nil {
		return err
	}

	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook"}, Data: map[string][]byte{"token": []byte(webhookToken)}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	receivers := ferry.GitopsV1alpha1().Receivers(ns)
	if _, err := receivers.Create(ctx, &gitopsv1alpha1.Receiver{
		ObjectMeta: metav1.ObjectMeta{Name: "github"},
		Spec: gitopsv1alpha1.ReceiverSpec{Type: gitopsv1alpha1.ReceiverGitHub, SecretRef: gitopsv1alpha1.LocalObjectReference{Name: "hook"},
			Selector: &metav1.LabelSelector{}},
	}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}

	b.logf("webhook: creating %d Applications (interval 1h)", n)
	apps := ferry.GitopsV1alpha1().Applications(ns)
	if _, err := b.parallel(ctx, n, func(ctx context.Context, i int) error {
		_, err := apps.Create(ctx, benchApp(ns, i, repo.URL(), n, time.Hour), metav1.CreateOptions{})
		return err
	}); err != nil {
		return err
	}
	if _, err := tr.waitFor(ctx, cfg.Timeout, b.logf, allAt(n, first, false)); err != nil {
		return fmt.Errorf("initial sync: %w", err)
	}
	var path string
	deadline := time.Now().Add(time.Minute)
	for path == "" {
		rcv, err := receivers.Get(ctx, "github", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if path = rcv.Status.WebhookPath; path == "" {
			if time.Now().After(deadline) {
				return fmt.Errorf("the Receiver has no webhookPath after a minute: %+v", rcv.Status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	var latencies []time.Duration
	var refreshed []float64
	for p := range webhookPushes {
		// Ten Applications spread over the monorepo, others at each push.
		var touched []int
		changed := map[string]string{}
		var paths []string
		for k := range webhookTouched {
			i := (p*webhookTouched + k*(n/webhookTouched)) % n
			touched = append(touched, i)
			file := appPath(i) + "/cm.yaml"
			changed[file] = configMap(objectName(i, "cm"), fmt.Sprintf("v%d", p+1))
			paths = append(paths, file)
		}
		sha := repo.Commit("main", changed, fmt.Sprintf("push %d", p+1))
		body, err := json.Marshal(map[string]any{
			"ref": "refs/heads/main", "after": sha,
			"repository": map[string]any{"clone_url": repo.URL()},
			"commits":    []map[string]any{{"id": sha, "added": []string{}, "removed": []string{}, "modified": paths}},
		})
		if err != nil {
			return err
		}
		delivered := time.Now()
		answer, err := deliverGitHub(ctx, "http://127.0.0.1:"+port+path, body)
		if err != nil {
			return fmt.Errorf("push %d: %w", p+1, err)
		}
		for _, i := range touched {
			at, err := tr.waitApp(ctx, appName(i), 2*time.Minute, func(a *gitopsv1alpha1.Application) bool {
				return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Sync.Revision == sha
			})
			if err != nil {
				return fmt.Errorf("push %d: %w", p+1, err)
			}
			latencies = append(latencies, at.Sub(delivered))
		}
		count := refreshedSince(tr, delivered)
		refreshed = append(refreshed, float64(count))
		b.logf("webhook: push %d answered %s; %d Applications refreshed", p+1, answer, count)
	}
	row := func(metric, unit string, v float64, target, note string) {
		b.report.add(Row{Scenario: scenarioWebhook, Metric: metric, Size: n, Unit: unit, Values: map[string]float64{"ferry": v}, Target: target, Note: note})
	}
	note := fmt.Sprintf("%d pushes x %d Applications, interval 1h", webhookPushes, webhookTouched)
	row("push delivered -> touched Synced p50", "ms", ms(percentile(latencies, 50)), "", note)
	row("push delivered -> touched Synced p99", "ms", ms(percentile(latencies, 99)), "<= 2000 ms", note)
	row("Applications refreshed per push (max)", "apps", slices.Max(refreshed), fmt.Sprintf("%d", webhookTouched), "status.refresh.requestedAt moved")
	return nil
}

// refreshedSince is how many Applications had a refresh recorded at or after t. The listener
// records every refresh before it answers, and the watch delivers events in order, so once the
// touched Applications are seen Synced every refresh of the push has been seen too.
func refreshedSince(tr *tracker, t time.Time) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, a := range tr.apps {
		if r := a.Status.Refresh; r != nil && !r.RequestedAt.Time.Before(t) {
			n++
		}
	}
	return n
}

// deliverGitHub POSTs a push signed as GitHub signs it and returns the answer.
func deliverGitHub(ctx context.Context, url string, body []byte) (string, error) {
	mac := hmac.New(sha256.New, []byte(webhookToken))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the webhook answered %d: %s", resp.StatusCode, out)
	}
	return string(bytes.TrimSpace(out)), nil
}
