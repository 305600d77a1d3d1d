package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// etcdMember is one member of a three-member etcd cluster a test runs.
type etcdMember struct {
	name, client string
	args         []string
	logPath      string
	cmd          *exec.Cmd
	exited       chan struct{}
}

// freePorts returns n ports of 127.0.0.1, free now and below the ephemeral range, so that no
// outgoing connection of another test takes one before the member binds it.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	seen := map[int]bool{}
	var ports []int
	for len(ports) < n {
		port, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if !seen[port] {
			seen[port] = true
			ports = append(ports, port)
		}
	}
	return ports
}

// startEtcdCluster starts three etcd members (the etcd the stack is built with) and waits until
// the cluster has a leader. They are killed at the end of the test.
func startEtcdCluster(t *testing.T) []*etcdMember {
	t.Helper()
	ports := freePorts(t, 6)
	var initial []string
	var members []*etcdMember
	for i := 0; i < 3; i++ {
		m := &etcdMember{name: fmt.Sprintf("m%d", i), client: fmt.Sprintf("https://127.0.0.1:%d", ports[2*i])}
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])
		initial = append(initial, m.name+"="+peer)
		m.args = []string{"--name", m.name, "--data-dir", t.TempDir(),
			"--listen-client-urls", m.client, "--advertise-client-urls", m.client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster-token", "ferry-faults", "--initial-cluster-state", "new",
			"--unsafe-no-fsync", "--log-level", "warn"}
		m.args = append(m.args, stack.EtcdMemberTLSFlags()...) // Ferry refuses a plaintext etcd
		m.logPath = filepath.Join(t.TempDir(), m.name+".log")
		members = append(members, m)
	}
	for _, m := range members {
		m.args = append(m.args, "--initial-cluster", strings.Join(initial, ","))
		m.start(t)
	}
	t.Cleanup(func() {
		for _, m := range members {
			m.kill(t)
			if t.Failed() {
				t.Logf("==== last 20 lines of etcd member %s ====\n%s", m.name, localstack.TailFile(m.logPath, 20))
			}
		}
	})
	for _, m := range members {
		m.waitHealthy(t)
	}
	return members
}

func (m *etcdMember) start(t *testing.T) {
	t.Helper()
	logFile, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	m.cmd = exec.Command(filepath.Join(stack.Env["FERRY_K8S_BIN"], "etcd"), m.args...)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting etcd member %s: %v", m.name, err)
	}
	exited := make(chan struct{})
	m.exited = exited
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait()
		close(exited)
	}(m.cmd)
}

// kill ends the member at once (SIGKILL), as a lost machine.
func (m *etcdMember) kill(t *testing.T) {
	t.Helper()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

func (m *etcdMember) waitHealthy(t *testing.T) {
	t.Helper()
	healthy := stack.EtcdHealthy(m.client)
	eventually.Until(t, time.Minute, 100*time.Millisecond, "etcd member "+m.name+" healthy", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := healthy(ctx); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// TestEtcdMemberLoss: two ferry-apiserver replicas on a three-member etcd cluster, 200
// Applications syncing and 20 sync requests accepted. One member lost: every Application still
// ends Synced and the API answers. A second lost (quorum gone): the API fails with errors or
// timeouts, no replica crashes, and a commit pushed meanwhile waits. Both members back: with
// no action, every Application ends Synced at the new commit, and every sync accepted before
// the faults is in its history once.
func TestEtcdMemberLoss(t *testing.T) {
	requireStack(t)
	const n, requested = 200, 20
	members := startEtcdCluster(t)
	var servers []string
	for _, m := range members {
		servers = append(servers, m.client)
	}
	leaseNS := newLeaseNamespace(t)
	ctx := context.Background()
	flags := []string{"--leader-elect-resource-namespace", leaseNS}
	a := startReplica(t, strings.Join(servers, ","), flags...)
	b := startReplica(t, strings.Join(servers, ","), flags...)
	apps := a.client.GitopsV1alpha1()

	srv := gittest.NewServer(t)
	repo := srv.NewRepo("members")
	first := repo.Commit("main", appFiles(n, "v1"), "v1")
	ns := newNamespace(t, "members")
	names := createAppsIn(t, a.client, ns, repo.URL(), n, 10*time.Second)
	accepted := map[string]string{}
	for _, name := range names[:requested] {
		got, err := apps.Applications(ns).Sync(ctx, name, &gitopsv1alpha1.ApplicationSync{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("requesting a sync of %s: %v", name, err)
		}
		accepted[name] = got.Status.OperationID
	}

	// One member lost, in the middle of the first sync.
	members[0].kill(t)
	lost := time.Now()
	failedCalls := 0
	allSynced := func(sha string) func() (bool, string) {
		return func() (bool, string) {
			callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			list, err := apps.Applications(ns).List(callCtx, metav1.ListOptions{})
			if err != nil {
				failedCalls++
				return false, err.Error()
			}
			synced := 0
			for _, app := range list.Items {
				if app.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && app.Status.Sync.Revision == sha {
					synced++
				}
			}
			return synced == n, fmt.Sprintf("%d of %d synced", synced, n)
		}
	}
	eventually.Until(t, 5*time.Minute, 500*time.Millisecond, "every Application Synced with one etcd member lost", allSynced(first))
	t.Logf("one member lost: all %d Applications Synced %s later; %d API calls of the test failed meanwhile", n, time.Since(lost).Round(time.Millisecond), failedCalls)
	if failedCalls > 0 {
		t.Errorf("%d API calls failed with one of three etcd members lost; quorum was there", failedCalls)
	}

	// A second member lost: no quorum.
	members[1].kill(t)
	eventually.Until(t, time.Minute, time.Second, "the API to fail without etcd quorum", func() (bool, string) {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := apps.Applications(ns).List(callCtx, metav1.ListOptions{})
		return err != nil, "the List still answered"
	})
	second := repo.Commit("main", appFiles(n, "v2"), "v2")
	<-time.After(10 * time.Second) // the outage's length: a reconcile interval passes without quorum
	for _, r := range []*replica{a, b} {
		if !r.alive() {
			t.Fatalf("the %s exited without etcd quorum:\n%s", r.name, localstack.TailFile(r.logPath, 40))
		}
	}

	// Both back.
	members[0].start(t)
	members[1].start(t)
	back := time.Now()
	for _, m := range members {
		m.waitHealthy(t)
	}
	eventually.Until(t, 5*time.Minute, 500*time.Millisecond, "every Application Synced at the new commit once quorum was back", allSynced(second))
	t.Logf("quorum back: all %d Applications Synced at the commit pushed during the outage %s later", n, time.Since(back).Round(time.Millisecond))
	list, err := apps.Applications(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range list.Items {
		id, ok := accepted[app.Name]
		if !ok {
			continue
		}
		records := 0
		for _, h := range app.Status.History {
			if h.ID == id {
				records++
			}
		}
		if records != 1 {
			t.Errorf("%s: the sync %s accepted before the faults is in its history %d times, want once", app.Name, id, records)
		}
	}
	for _, r := range []*replica{a, b} {
		if !r.alive() {
			t.Errorf("the %s exited", r.name)
		}
	}
}
