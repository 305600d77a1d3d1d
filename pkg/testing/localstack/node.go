package localstack

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodeName is the stack's one Node. kwok plays its kubelet: Pods scheduled to it become Running
// and Ready, a Job's Pods complete, and a Job Pod labelled FailLabel="true" fails.
const NodeName = "ferry-node-1"

// FailLabel on a Pod (a Job's template) makes kwok end it Failed with exit code 1, so that
// tests can take a Job's failure path.
const FailLabel = "local.ferry.dev/fail"

// kwokManagedLabel selects the Nodes kwok manages: the stack's own, never a Node made by a test.
const kwokManagedLabel = "local.ferry.dev/kwok"

//go:embed kwok-stages.yaml
var kwokStages []byte

// startKubeScheduler runs kube-scheduler, which places Pods on the stack's Node. Like
// kube-controller-manager it acts with the admin client certificate of the stack's PKI.
func (s *Stack) startKubeScheduler(ctx context.Context, cfg Config) error {
	p, l := cfg.Ports, s.layout
	cfg.logf("starting kube-scheduler on 127.0.0.1:%d", p.Scheduler)
	certDir := filepath.Join(s.Dir, "scheduler-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	kubeconfig := l.Kubeconfig("kube-controller-manager")
	if err := s.startProcess("kube-scheduler", cfg.WithParent, nil, filepath.Join(cfg.K8sBin, "kube-scheduler"),
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(p.Scheduler),
		"--cert-dir", certDir, "--leader-elect=false",
		"--kube-api-qps", "200", "--kube-api-burst", "400",
		"--profiling=false"); err != nil {
		return err
	}
	// Its serving certificate is self-signed in scheduler-certs/, hence no verification.
	return s.waitFor(ctx, cfg, "kube-scheduler", "kube-scheduler /healthz",
		httpOK(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.Scheduler), "", ""))
}

// startKwok runs kwok with the stages of kwok-stages.yaml and the Pods' log (podlogs.go),
// registers the stack's Node and waits until it is Ready with kwok's port as its kubelet's.
// kwok's own server (health, and the kubelet API it fakes: pods/log reaches it) listens on
// 127.0.0.1 only and serves TLS with the kubelet certificate of the stack's PKI.
func (s *Stack) startKwok(ctx context.Context, cfg Config) error {
	p, l := cfg.Ports, s.layout
	stages := filepath.Join(s.Dir, "kwok-stages.yaml")
	if err := writeFileAtomic(stages, kwokStages, 0o644); err != nil {
		return err
	}
	logs := filepath.Join(s.Dir, "kwok-logs.yaml")
	if err := writeFileAtomic(logs, kwokLogsConfig(l.podLogFile()), 0o644); err != nil {
		return err
	}
	if err := s.startPodLogWriter(ctx, cfg); err != nil {
		return err
	}
	cfg.logf("starting kwok (the fake kubelet of Node %s) on 127.0.0.1:%d", NodeName, p.Kwok)
	if err := s.startProcess("kwok", cfg.WithParent, nil, filepath.Join(cfg.K8sBin, "kwok"),
		"--kubeconfig", l.Kubeconfig("kube-controller-manager"), "--config", stages, "--config", logs,
		"--manage-all-nodes=false", "--manage-nodes-with-label-selector", kwokManagedLabel+"=true",
		"--server-address", fmt.Sprintf("127.0.0.1:%d", p.Kwok), "--node-port", strconv.Itoa(p.Kwok),
		"--tls-cert-file", l.PKI("kubelet.crt"), "--tls-private-key-file", l.PKI("kubelet.key"),
		"--node-ip", "127.0.0.1", "--cidr", "10.244.0.0/16",
		// A lease renewed every 10 s keeps the node lifecycle controller from marking the Node
		// unreachable (and evicting its Pods) while the stack runs.
		"--node-lease-duration-seconds", "40"); err != nil {
		return err
	}
	if err := s.waitFor(ctx, cfg, "kwok", "kwok /healthz",
		httpOK(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.Kwok), l.PKI("kubelet-ca.crt"), "")); err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(s.RestConfig("admin"))
	if err != nil {
		return err
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:   NodeName,
		Labels: map[string]string{kwokManagedLabel: "true", corev1.LabelHostname: NodeName, corev1.LabelOSStable: "linux", corev1.LabelArchStable: "amd64"},
	}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("registering Node %s: %w", NodeName, err)
	}
	return s.waitFor(ctx, cfg, "kwok", "Node "+NodeName+" Ready", func(ctx context.Context) error {
		n, err := client.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready := false
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return fmt.Errorf("node %s is not Ready yet", NodeName)
		}
		if int(n.Status.DaemonEndpoints.KubeletEndpoint.Port) == p.Kwok {
			return nil
		}
		// A Node a stack registered before it served the kubelet API, or on another port, is
		// Ready already, and kwok plays the Node stage only on a Node that is not: the port is
		// set here.
		patch := fmt.Appendf(nil, `{"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":%d}}}}`, p.Kwok)
		if _, err := client.CoreV1().Nodes().PatchStatus(ctx, NodeName, patch); err != nil {
			return fmt.Errorf("setting the kubelet port of Node %s: %w", NodeName, err)
		}
		return fmt.Errorf("node %s named kubelet port %d, not kwok's %d", NodeName, n.Status.DaemonEndpoints.KubeletEndpoint.Port, p.Kwok)
	})
}
