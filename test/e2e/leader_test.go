package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// Log lines of pkg/controller/leader and pkg/controller/application that tell what a replica did.
const (
	competingLine = "Competing to be the active controller"
	becameLine    = "Became the active controller"
	workersLine   = "Starting workers" // the controller runs: only ever on the active replica
)

// replica is one extra ferry-apiserver process started by a test, outside the APIService.
type replica struct {
	name     string
	port     int
	logPath  string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has exited
	client   versioned.Interface
	identity string // its identity in the leader election Lease
}

// log is the replica's output so far.
func (r *replica) log(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// freePort is a port of 127.0.0.1 nothing listens on right now, below the ephemeral range: no
// outgoing connection of another test takes it before the replica binds it.
func freePort(t *testing.T) int {
	t.Helper()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// startReplica starts ferry-apiserver as the stack's own one runs (same identity, kubeconfigs and
// serving certificate) with extraArgs, but on its own port, storing Applications in the stack's etcd under
// etcdPrefix and electing its controller through the Lease in leaseNamespace. It is killed at
// cleanup; its log is shown when the test failed.
func startReplica(t *testing.T, s *Stack, name, etcdPrefix, leaseNamespace string, extraArgs ...string) *replica {
	t.Helper()
	pki := filepath.Join(s.Dir, "pki")
	ferryKubeconfig := filepath.Join(s.Dir, "kubeconfig-ferry-apiserver")
	r := &replica{name: name, port: freePort(t), logPath: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	args := []string{
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(r.port),
		"--tls-cert-file", filepath.Join(pki, "ferry-apiserver.crt"),
		"--tls-private-key-file", filepath.Join(pki, "ferry-apiserver.key"),
		"--kubeconfig", ferryKubeconfig,
		"--authentication-kubeconfig", ferryKubeconfig,
		"--authorization-kubeconfig", ferryKubeconfig,
		"--etcd-prefix", etcdPrefix,
		"--data-dir", t.TempDir(),
		"--allow-file-repositories",
		"--egress-allow-cidrs=127.0.0.1/32", // the stack's Git servers are on loopback
		"--leader-elect-resource-namespace", leaseNamespace,
	}
	args = append(append(args, s.FerryEtcdFlags()...), extraArgs...)
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(s.FerryBin, args...)
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	if err := r.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting replica %s: %v", name, err)
	}
	logFile.Close()
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		if r.alive() {
			_ = r.cmd.Process.Kill()
		}
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			t.Errorf("replica %s (pid %d) did not exit after SIGKILL", name, r.cmd.Process.Pid)
		}
		if t.Failed() {
			t.Logf("==== last 40 lines of replica %s's log ====\n%s", name, tailFile(r.logPath, 40))
		}
	})

	r.client, err = versioned.NewForConfig(&rest.Config{
		Host:            "https://127.0.0.1:" + strconv.Itoa(r.port),
		BearerToken:     s.Token(Admin),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(pki, "ferry-ca.crt")},
		UserAgent:       "ferry-e2e/" + name,
		Timeout:         30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitReady waits until the replica answers /readyz and has said which identity it competes
// for the Lease with.
func (r *replica) waitReady(t *testing.T, s *Stack) {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(s.Dir, "pki", "ferry-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", r.port)
	eventually(t, 90*time.Second, "replica "+r.name+" ready", func() (bool, string) {
		if !r.alive() {
			t.Fatalf("replica %s exited:\n%s", r.name, tailFile(r.logPath, 40))
		}
		resp, err := hc.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	identityRE := regexp.MustCompile(`"` + competingLine + `".* identity="([^"]+)"`)
	eventually(t, 30*time.Second, "replica "+r.name+" competes for the Lease", func() (bool, string) {
		m := identityRE.FindStringSubmatch(r.log(t))
		if m == nil {
			return false, "no line " + strconv.Quote(competingLine)
		}
		r.identity = m[1]
		return true, ""
	})
}

// waitAppOn polls an Application through one replica until cond holds.
func waitAppOn(t *testing.T, r *replica, ns, name, what string, cond func(*gitopsv1alpha1.Application) bool) {
	t.Helper()
	eventually(t, syncTimeout, what, func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		app, err := r.client.GitopsV1alpha1().Applications(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return cond(app), describeApp(app)
	})
}

// grantLeases gives Ferry's identity in ns what artifacts/base/rbac.yaml grants it on Leases in
// ferry-system: the test's replicas elect their controller and hold their shards there.
func grantLeases(t *testing.T, ns string) {
	t.Helper()
	kubectl(t, "create", "role", "ferry-leader-election", "-n", ns,
		"--verb=get,list,watch,create,update,patch,delete", "--resource=leases.coordination.k8s.io")
	kubectl(t, "create", "rolebinding", "ferry-leader-election", "-n", ns,
		"--role=ferry-leader-election", "--serviceaccount=ferry-system:ferry-apiserver")
}

// leaseHolder is spec.holderIdentity of the controller's Lease in ns, "" when there is none.
func leaseHolder(s *Stack, ns string) string {
	r := s.Run(Admin, "", "get", "lease", "ferry-controller", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}")
	if r.Err != nil {
		return ""
	}
	return r.Stdout
}

// TestOnlyOneReplicaReconciles runs two more ferry-apiserver replicas sharing one store: both
// serve the API, exactly one (the holder of the Lease) reconciles, and when it shuts down the
// other takes the Lease over and syncs the next commit.
func TestOnlyOneReplicaReconciles(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("leader")
	first := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("leader-cm", "v1")}, "first")
	ns := newNamespace(t, "leader")
	grantLeases(t, ns)

	prefix := fmt.Sprintf("/ferry-leader-test-%06d", rand.IntN(1000000))
	replicas := []*replica{
		startReplica(t, s, "a", prefix, ns),
		startReplica(t, s, "b", prefix, ns),
	}
	for _, r := range replicas {
		r.waitReady(t, s)
	}
	if replicas[0].identity == replicas[1].identity {
		t.Fatalf("both replicas have the identity %q", replicas[0].identity)
	}

	// Create the Application through replica a; whichever replica leads deploys it.
	var app gitopsv1alpha1.Application
	if err := json.Unmarshal([]byte(gitApp(ns, "web", repo, "app", ns, nil)), &app); err != nil {
		t.Fatal(err)
	}
	if _, err := replicas[0].client.GitopsV1alpha1().Applications(ns).Create(ctxFor(t), &app, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Application through replica a: %v", err)
	}
	waitAppOn(t, replicas[0], ns, "web", "the first commit synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == first && synced(a)
	})
	if v, ok := configMapValue(t, ns, "leader-cm"); !ok || v != "v1" {
		t.Fatalf("leader-cm = %q, %v; want v1", v, ok)
	}

	holder := leaseHolder(s, ns)
	var active, standby *replica
	for i, r := range replicas {
		if r.identity == holder {
			active, standby = r, replicas[1-i]
		}
	}
	if active == nil {
		t.Fatalf("the Lease is held by %q, neither replica (%s, %s)", holder, replicas[0].identity, replicas[1].identity)
	}
	t.Logf("replica %s (%s) is the active controller", active.name, active.identity)
	if n := strings.Count(active.log(t), becameLine); n != 1 {
		t.Errorf("the active replica %s logged %q %d times, want once", active.name, becameLine, n)
	}
	if !strings.Contains(active.log(t), workersLine) {
		t.Errorf("the active replica %s never started its controller's workers", active.name)
	}
	standbyLog := standby.log(t)
	if strings.Contains(standbyLog, becameLine) || strings.Contains(standbyLog, workersLine) {
		t.Fatalf("the standby replica %s ran its controller while %s held the Lease", standby.name, active.name)
	}

	// A clean shutdown releases the Lease once the controller has stopped, so the standby takes
	// over after one retry period rather than a whole lease duration.
	stopped := time.Now()
	if err := active.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	second := repo.Commit("main", map[string]string{"app/cm.yaml": configMapYAML("leader-cm", "v2")}, "second")
	eventually(t, 60*time.Second, "replica "+standby.name+" holds the Lease", func() (bool, string) {
		h := leaseHolder(s, ns)
		return h == standby.identity, "holder " + strconv.Quote(h)
	})
	takeover := time.Since(stopped)
	waitAppOn(t, standby, ns, "web", "the second commit synced by "+standby.name, func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Revision == second && synced(a)
	})
	syncedAfter := time.Since(stopped)
	if v, _ := configMapValue(t, ns, "leader-cm"); v != "v2" {
		t.Errorf("after the takeover leader-cm = %q, want v2", v)
	}
	if n := strings.Count(standby.log(t), becameLine); n != 1 {
		t.Errorf("replica %s logged %q %d times, want once", standby.name, becameLine, n)
	}
	eventually(t, 60*time.Second, "replica "+active.name+" exited after SIGTERM", func() (bool, string) {
		return !active.alive(), "still running"
	})
	t.Logf("after SIGTERM to %s: %s held the Lease within %s and synced the new commit within %s (its log says \"Stopped leading\": %v)",
		active.name, standby.name, takeover.Round(time.Millisecond), syncedAfter.Round(time.Millisecond),
		strings.Contains(active.log(t), `"Stopped leading"`))
}
