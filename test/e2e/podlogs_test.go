package e2e

import (
	"bufio"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// TestPodLogsStreamFromTheStacksNode reads a Pod's log through the API's pods/log, as kubectl
// logs and the web UI's log view do: the log of a Deployment's Pod on the stack's Node (kwok)
// is readable, and following it delivers new lines as they are written.
func TestPodLogsStreamFromTheStacksNode(t *testing.T) {
	s := requireStack(t)
	client, err := kubernetes.NewForConfig(s.restConfig(Admin))
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "podlogs")
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.k8s.io/e2e-test-images/agnhost:2.53", Args: []string{"netexec"}}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments(ns).Create(ctxFor(t), deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod string
	eventually(t, time.Minute, "the Deployment's Pod Running on "+localstack.NodeName, func() (bool, string) {
		pods, err := client.CoreV1().Pods(ns).List(ctxFor(t), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == localstack.NodeName && p.Status.Phase == corev1.PodRunning {
				pod = p.Name
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d Pods, none Running on %s", len(pods.Items), localstack.NodeName)
	})

	logs, err := client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: "web"}).DoRaw(ctxFor(t))
	if err != nil {
		t.Fatalf("reading the log of Pod %s/%s: %v", ns, pod, err)
	}
	if !strings.Contains(string(logs), localstack.PodLogMessage) {
		t.Fatalf("the log of Pod %s/%s has no line with %q:\n%s", ns, pod, localstack.PodLogMessage, logs)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Follow: true, TailLines: ptr.To[int64](1)}).Stream(ctx)
	if err != nil {
		t.Fatalf("following the log of Pod %s/%s: %v", ns, pod, err)
	}
	defer stream.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stream)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	// The tail gives one line at once; a second, different one can only come from following.
	distinct := map[string]bool{}
	var seen []string
	deadline := time.After(time.Minute)
	for len(distinct) < 2 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the followed log of Pod %s/%s ended after:\n%s", ns, pod, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if strings.Contains(line, localstack.PodLogMessage) {
				distinct[line] = true
			}
		case <-deadline:
			t.Fatalf("following the log of Pod %s/%s gave no two distinct lines with %q within a minute; it gave:\n%s",
				ns, pod, localstack.PodLogMessage, strings.Join(seen, "\n"))
		}
	}
}
