package security

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestAttackFerrysOwnIdentityIsClusterAdmin is the standing privilege of the README's table:
// ferry-apiserver's ServiceAccount was bound to cluster-admin, so anything running with its
// token (the server, its render workers) could write anything. As installed (artifacts/), it
// may not create a Deployment, a Secret or a ClusterRoleBinding, while a platform admin's
// Application in ferry-system, naming no ServiceAccount, still deploys a namespace and what is
// in it: it acts as ferry-system/ferry-admin, impersonated.
func TestAttackFerrysOwnIdentityIsClusterAdmin(t *testing.T) {
	s := requireStack(t)
	ctx := ctxFor(t)
	const ferrySA = "system:serviceaccount:ferry-system:ferry-apiserver"
	for _, args := range [][]string{
		{"create", "deployments", "-n", "default"},
		{"create", "secrets", "-n", "kube-system"},
		{"delete", "pods", "-n", "default"},
		{"create", "clusterrolebindings"},
		{"patch", "configmaps", "-n", "default"},
	} {
		out, _ := s.RunKubectl(ctx, "", append([]string{"auth", "can-i", "--as=" + ferrySA, "--as-group=system:serviceaccounts", "--as-group=system:serviceaccounts:ferry-system"}, args...)...)
		if answer := lastLine(out); answer != "no" {
			t.Errorf("kubectl auth can-i %s as ferry-apiserver: %q, want no", strings.Join(args, " "), answer)
		}
	}
	if out, _ := s.RunKubectl(ctx, "", "auth", "can-i", "create", "deployments", "-n", "default", "--as=system:serviceaccount:ferry-system:ferry-admin"); lastLine(out) != "yes" {
		t.Errorf("ferry-system/ferry-admin may not create Deployments (%q): privileged Applications could not deploy", lastLine(out))
	}

	// A platform admin's Application: a namespace of its own and a ConfigMap in it.
	target := fmt.Sprintf("sec-platform-%05d", rand.IntN(100000))
	repo := gittest.NewServer(t).NewRepo("platform")
	repo.Commit("main", map[string]string{
		"platform/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + target + "}\n",
		"platform/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: " + target + "}\ndata: {k: v}\n",
	}, "platform")
	app := newApp("ferry-system", target, repo.URL(), "platform")
	app.Spec.ServiceAccountName = ""
	createApp(t, admin, app)
	t.Cleanup(func() {
		_ = ferry(t, admin).GitopsV1alpha1().Applications("ferry-system").Delete(context.Background(), target, metav1.DeleteOptions{})
	})
	waitForApp(t, "ferry-system", target, 2*time.Minute, "Synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced
	})
	if _, err := kube(t, admin).CoreV1().ConfigMaps(target).Get(ctx, "settings", metav1.GetOptions{}); err != nil {
		t.Errorf("the privileged Application's ConfigMap: %v", err)
	}
}

// lastLine is the answer of kubectl auth can-i, after any warning it prints first.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
