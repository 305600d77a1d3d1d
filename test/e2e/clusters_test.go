package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// remote is a second control plane (etcd, kube-apiserver, kube-controller-manager) started for
// the tests that deploy to another cluster, once, on first use; TestMain stops it.
var remote struct {
	once  sync.Once
	stack *localstack.Stack
	err   error
}

// remoteStack returns the second control plane, starting it the first time.
func remoteStack(t *testing.T) *localstack.Stack {
	t.Helper()
	requireStack(t)
	remote.once.Do(func() {
		start := time.Now()
		remote.stack, remote.err = localstack.Start(localstack.Options{NoNode: true, Keep: os.Getenv("FERRY_E2E_KEEP") == "1"})
		if remote.err == nil {
			fmt.Fprintf(os.Stderr, "e2e: second control plane up in %s (%s)\n", time.Since(start).Round(time.Millisecond), remote.stack.Dir)
		}
	})
	if remote.err != nil {
		t.Fatalf("starting the second control plane: %v", remote.err)
	}
	return remote.stack
}

// stopRemote stops the second control plane, if one was started.
func stopRemote() {
	if remote.stack != nil && os.Getenv("FERRY_E2E_KEEP") != "1" {
		remote.stack.Stop()
	}
}

// remoteKubectl runs the remote cluster's kubectl as its admin.
func remoteKubectl(t *testing.T, r *localstack.Stack, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := requireStack(t)
	cmd := s.kubectlCmd(ctx, Admin, args...)
	cmd.Args[2] = r.Kubeconfig()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRemoteKubectl(t *testing.T, r *localstack.Stack, args ...string) string {
	t.Helper()
	out, err := remoteKubectl(t, r, args...)
	if err != nil {
		t.Fatalf("remote kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// registerCluster registers r as a Cluster named name in the main stack, with labels, Ferry's
// credentials there being r's admin token in a Secret of ferry-system; removed at cleanup.
func registerCluster(t *testing.T, r *localstack.Stack, name string, labels map[string]string) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(r.Dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	secret := name + "-credentials"
	kubectl(t, "create", "secret", "generic", secret, "-n", "ferry-system", "--from-literal=token="+r.Token("admin"))
	var labelLines strings.Builder
	for k, v := range labels {
		fmt.Fprintf(&labelLines, "    %s: %q\n", k, v)
	}
	manifest := fmt.Sprintf(`apiVersion: gitops.ferry.dev/v1alpha1
kind: Cluster
metadata:
  name: %s
  labels:
%s
spec:
  server: https://127.0.0.1:%s
  caBundle: %s
  credentialsRef: {name: %s}
`, name, labelLines.String(), r.Env["KUBE_PORT"], base64.StdEncoding.EncodeToString(ca), secret)
	kubectlStdin(t, Admin, manifest, "apply", "-f", "-")
	t.Cleanup(func() {
		stack.Run(Admin, "", "delete", "cluster.gitops.ferry.dev", name, "--ignore-not-found", "--wait=false")
		stack.Run(Admin, "", "delete", "secret", secret, "-n", "ferry-system", "--ignore-not-found")
	})
}

// clusterColumns returns `kubectl get clusters name` as a header and one row.
func clusterRow(t *testing.T, name string) map[string]string {
	t.Helper()
	out := kubectl(t, "get", "clusters.gitops.ferry.dev", name)
	header, row := headerAndRow(t, out, name)
	cells := map[string]string{}
	for i, h := range header {
		if i < len(row) {
			cells[h] = row[i]
		}
	}
	return cells
}

// TestAnApplicationDeploysToARemoteCluster: a Cluster registered with a token shows Ready, its
// version and its Applications; an Application naming it deploys there (not here), as its
// ServiceAccount there, with /diff and /health answered from there. A user who may not use the
// Cluster is refused with a 403 naming spec.destination.cluster. When the remote kube-apiserver
// dies the Application turns Unknown with a condition naming the cluster, nothing is pruned, and
// when it comes back the Application is Synced again without anyone touching it; drift there is
// healed.
func TestAnApplicationDeploysToARemoteCluster(t *testing.T) {
	s := requireStack(t)
	r := remoteStack(t)
	cluster := fmt.Sprintf("staging-%05d", rand.IntN(100000))
	registerCluster(t, r, cluster, map[string]string{"env": "staging"})
	eventually(t, 60*time.Second, "the Cluster is Ready", func() (bool, string) {
		row := clusterRow(t, cluster)
		return row["READY"] == "True" && strings.HasPrefix(row["VERSION"], "v1.37"), fmt.Sprint(row)
	})

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("remote")
	repo.Commit("main", map[string]string{
		"app/settings.yaml": configMapYAML("settings", "v1"),
		"app/service.yaml":  serviceYAML("web"),
	}, "settings and a service")
	ns := newNamespace(t, "remote")
	// On the remote cluster: the namespace, and the same ServiceAccount's rights there.
	mustRemoteKubectl(t, r, "create", "namespace", ns)
	mustRemoteKubectl(t, r, "create", "rolebinding", "deployer", "--clusterrole=edit", "--serviceaccount="+ns+":default", "-n", ns)

	// A user who may write Applications here but may not use the Cluster is refused.
	kubectl(t, "create", "rolebinding", "editor-edit", "--clusterrole=edit", "--user=editor", "-n", ns)
	app := gitApp(ns, "web", repo, "app", ns, map[string]any{
		"destination.cluster":  cluster,
		"syncPolicy.automated": map[string]any{"prune": true, "selfHeal": true},
		"syncPolicy.interval":  "1h",
	})
	eventually(t, 60*time.Second, "editor may create applications", func() (bool, string) {
		r := s.Run(Admin, "", "auth", "can-i", "create", "applications.gitops.ferry.dev", "-n", ns, "--as=editor")
		return strings.TrimSpace(r.Stdout) == "yes", r.String()
	})
	refused := kubectlFails(t, "editor", app, "create", "-f", "-")
	if !strings.Contains(refused.Stderr, `spec.destination.cluster: Forbidden: user "editor" may not use cluster "`+cluster+`"`) {
		t.Errorf("a user without use on the Cluster: want 403 naming spec.destination.cluster, got %s", refused)
	}
	assertNotFound(t, ns, "web")

	kubectlStdin(t, Admin, app, "apply", "-f", "-")
	waitApp(t, ns, "web", "Synced on the remote cluster", synced)
	if v := mustRemoteKubectl(t, r, "get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.value}"); v != "v1" {
		t.Fatalf("the remote ConfigMap holds %q, want v1", v)
	}
	if _, ok := configMapValue(t, ns, "settings"); ok {
		t.Fatal("the Application deployed into the cluster Ferry runs in too")
	}
	if out := kubectl(t, "get", "applications", "-A", "--field-selector", "spec.destination.cluster="+cluster, "-o", "name"); strings.TrimSpace(out) != "application.gitops.ferry.dev/web" {
		t.Errorf("the Applications of cluster %s by field selector: %q", cluster, out)
	}
	eventually(t, 60*time.Second, "the Cluster counts the Application", func() (bool, string) {
		row := clusterRow(t, cluster)
		return row["APPS"] == "1", fmt.Sprint(row)
	})
	health := kubectl(t, "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/health")
	if !strings.Contains(health, `"status":"Healthy"`) || !strings.Contains(health, `"name":"settings"`) {
		t.Errorf("/health of a remote Application: %s", health)
	}
	mustRemoteKubectl(t, r, "patch", "configmap", "settings", "-n", ns, "--type=merge", "-p", `{"data":{"value":"edited-by-hand"}}`)
	// The diff is read from the remote cluster: it sees the edit (unless selfHeal was quicker).
	diff := kubectl(t, "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/diff")
	if !strings.Contains(diff, `"name":"settings"`) {
		t.Errorf("/diff of a remote Application names no settings: %s", diff)
	}
	eventually(t, 60*time.Second, "drift on the remote cluster healed", func() (bool, string) {
		v, _ := remoteKubectl(t, r, "get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.value}")
		return v == "v1", v
	})

	// The remote kube-apiserver dies.
	killed := time.Now()
	if err := r.Kill("kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	waitApp(t, ns, "web", "Unknown, naming the cluster", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusUnknown && a.Status.Health.Status == gitopsv1alpha1.HealthUnknown &&
			strings.HasPrefix(condition(a, "Ready"), "False/ClusterUnavailable: cluster \""+cluster+"\"")
	})
	t.Logf("the Application showed the cluster unavailable %s after its kube-apiserver was killed", time.Since(killed).Round(time.Millisecond))
	if row := clusterRow(t, cluster); row["READY"] != "False" {
		t.Errorf("the Cluster of a dead kube-apiserver: %v", row)
	}
	if got := getApp(t, ns, "web"); len(got.Status.Resources) != 2 {
		t.Errorf("the inventory while the cluster is away: %v, want both objects kept", got.Status.Resources)
	}
	// Reads say which cluster is missing, as a 503 to retry.
	diffDown := s.Run(Admin, "", "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/diff")
	if diffDown.Err == nil || !strings.Contains(diffDown.Stderr, "ServiceUnavailable") || !strings.Contains(diffDown.Stderr, `cluster \"`+cluster+`\"`) && !strings.Contains(diffDown.Stderr, `cluster "`+cluster+`"`) {
		t.Errorf("/diff while the cluster is away: want 503 naming the cluster, got %s", diffDown)
	}
	if err := r.StartAgain(context.Background(), "kube-apiserver"); err != nil {
		t.Fatal(err)
	}
	waitApp(t, ns, "web", "Synced again without anyone touching it", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && strings.HasPrefix(condition(a, "Ready"), "True")
	})
	for _, obj := range []string{"configmap/settings", "service/web"} {
		if _, err := remoteKubectl(t, r, "get", obj, "-n", ns); err != nil {
			t.Errorf("%s is gone from the remote cluster after the outage: %v", obj, err)
		}
	}
}
