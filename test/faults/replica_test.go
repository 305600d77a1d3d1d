package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// replica is another ferry-apiserver beside the stack's: same identity and certificates, its own
// port and data directory, storing in etcdServers (comma-separated https:// URLs of members of the
// stack's etcd CA) and competing for the Lease the extra flags
// name (the stack's by default).
type replica struct {
	name    string
	port    int
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
	client  versioned.Interface
}

func startReplica(t *testing.T, etcdServers string, extra ...string) *replica {
	t.Helper()
	port, err := localstack.FreePort() // below the ephemeral range: no other test's connection takes it meanwhile
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(stack.Dir, "pki")
	kubeconfig := filepath.Join(stack.Dir, "kubeconfig-ferry-apiserver")
	r := &replica{port: port, logPath: filepath.Join(t.TempDir(), "replica.log"), exited: make(chan struct{})}
	r.name = fmt.Sprintf("replica on port %d", port)
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	extra = append(stack.FerryEtcdFlags(strings.Split(etcdServers, ",")...), extra...)
	r.cmd = exec.Command(stack.FerryBin, append([]string{
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(port),
		"--tls-cert-file", filepath.Join(pki, "ferry-apiserver.crt"), "--tls-private-key-file", filepath.Join(pki, "ferry-apiserver.key"),
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--data-dir", t.TempDir(), "--allow-file-repositories", "--egress-allow-cidrs=127.0.0.1/32"}, extra...)...)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logFile.Close()
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.exited
		if t.Failed() {
			t.Logf("==== last 40 lines of the log of the %s ====\n%s", r.name, localstack.TailFile(r.logPath, 40))
		}
	})
	if r.client, err = versioned.NewForConfig(&rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(port),
		BearerToken:     stack.Token("admin"),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(pki, "ferry-ca.crt")},
		Timeout:         30 * time.Second,
	}); err != nil {
		t.Fatal(err)
	}
	hc, err := ferryHTTPS()
	if err != nil {
		t.Fatal(err)
	}
	eventually.Until(t, 90*time.Second, 200*time.Millisecond, "the replica's /readyz", func() (bool, string) {
		select {
		case <-r.exited:
			t.Fatalf("the replica exited:\n%s", localstack.TailFile(r.logPath, 40))
		default:
		}
		resp, err := hc.Get(fmt.Sprintf("https://127.0.0.1:%d/readyz", port))
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return r
}

func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// newLeaseNamespace makes a namespace where replicas started by a test elect their controller,
// beside the stack's Lease, with the rights artifacts/base/rbac.yaml grants Ferry in ferry-system.
func newLeaseNamespace(t *testing.T) string {
	t.Helper()
	ns := newNamespace(t, "lease")
	ctx := context.Background()
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-leader-election"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-leader-election"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ferry-leader-election"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ferry-apiserver", Namespace: "ferry-system"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return ns
}
