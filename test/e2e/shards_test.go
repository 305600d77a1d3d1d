package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// reconcileLine is a klog line of pkg/controller/application at -v=4: when a reconcile of an Application
// started or finished, to the microsecond.
var reconcileLine = regexp.MustCompile(`^I(\d{4} \d{2}:\d{2}:\d{2}\.\d{6})\s.*"Reconcile (started|finished)".* application="([^"]+)"`)

// span is one reconcile of one Application by one replica.
type span struct {
	replica    string
	start, end time.Time
}

// reconcileSpans reads every reconcile of a replica's log; one still running (the replica was
// killed in it) ends at until.
func reconcileSpans(t *testing.T, r *replica, until time.Time) map[string][]span {
	t.Helper()
	out := map[string][]span{}
	open := map[string]time.Time{}
	for _, line := range strings.Split(r.log(t), "\n") {
		m := reconcileLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, err := time.Parse("0102 15:04:05.000000", m[1])
		if err != nil {
			t.Fatal(err)
		}
		switch m[2] {
		case "started":
			open[m[3]] = at
		case "finished":
			if start, ok := open[m[3]]; ok {
				out[m[3]] = append(out[m[3]], span{replica: r.name, start: start, end: at})
				delete(open, m[3])
			}
		}
	}
	for app, start := range open {
		out[app] = append(out[app], span{replica: r.name, start: start, end: until})
	}
	return out
}

// shardLine is a line of pkg/controller/shard saying a replica took or gave up a shard.
var shardLine = regexp.MustCompile(`"(Holding|Released) a shard".* shard=(\d+)`)

// heldShards are the shards a replica's log says it holds now.
func heldShards(t *testing.T, r *replica) []string {
	t.Helper()
	held := map[string]bool{}
	for _, m := range shardLine.FindAllStringSubmatch(r.log(t), -1) {
		held[m[2]] = m[1] == "Holding"
	}
	var out []string
	for s, ok := range held {
		if ok {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// assignmentLine is pkg/controller/shard's -v=4 line with the clusters' shards.
var assignmentLine = regexp.MustCompile(`"Assigned the clusters to shards".* assignment="([^"]*)"`)

// assignment is the last assignment of clusters to shards a replica's log shows, as cluster=shard
// pairs.
func assignment(t *testing.T, r *replica) map[string]string {
	t.Helper()
	out := map[string]string{}
	all := assignmentLine.FindAllStringSubmatch(r.log(t), -1)
	if len(all) == 0 {
		return out
	}
	for _, pair := range strings.Split(all[len(all)-1][1], ",") {
		if c, s, ok := strings.Cut(pair, "="); ok {
			out[c] = s
		}
	}
	return out
}

// createCluster registers stack s as Cluster name through a replica's own API, its admin token
// in a Secret of ferry-system.
func createCluster(t *testing.T, r *replica, s *localstack.Stack, name string) {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(s.Dir, "pki", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	secret := name + "-credentials"
	kubectl(t, "create", "secret", "generic", secret, "-n", "ferry-system", "--from-literal=token="+s.Token("admin"))
	t.Cleanup(func() { stack.Run(Admin, "", "delete", "secret", secret, "-n", "ferry-system", "--ignore-not-found") })
	_, err = r.client.GitopsV1alpha1().Clusters().Create(ctxFor(t), &gitopsv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: gitopsv1alpha1.ClusterSpec{Server: "https://127.0.0.1:" + s.Env["KUBE_PORT"], CABundle: ca,
			CredentialsRef: gitopsv1alpha1.LocalObjectReference{Name: secret}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTwoReplicasShareTheClustersAndTakeOverEachOthers: two replicas with --shards=2 and two
// Clusters each hold one shard and reconcile its Applications only; when one is killed the other
// takes its shard over within the lease duration and syncs its Applications' next commit; and no
// Application is ever reconciled by both at once (from their -v=4 logs).
func TestTwoReplicasShareTheClustersAndTakeOverEachOthers(t *testing.T) {
	s := requireStack(t)
	r := remoteStack(t)
	ns := newNamespace(t, "shards")
	grantLeases(t, ns)
	mustRemoteKubectl(t, r, "create", "namespace", ns)
	mustRemoteKubectl(t, r, "create", "clusterrolebinding", "e2e-"+ns, "--clusterrole=cluster-admin", "--serviceaccount="+ns+":default")
	prefix := fmt.Sprintf("/e2e-shards-%05d", rand.IntN(100000))
	args := []string{"--shards=2", "-v=4", "--cluster-probe-interval=2s",
		"--leader-elect-lease-duration=4s", "--leader-elect-renew-deadline=3s", "--leader-elect-retry-period=1s"}
	a := startReplica(t, s, "a", prefix, ns, args...)
	b := startReplica(t, s, "b", prefix, ns, args...)
	a.waitReady(t, s)
	b.waitReady(t, s)

	// Each replica holds one shard (a, alone for a moment, may have held both and given one up).
	eventually(t, 30*time.Second, "each replica holds one shard", func() (bool, string) {
		ha, hb := heldShards(t, a), heldShards(t, b)
		return len(ha) == 1 && len(hb) == 1 && ha[0] != hb[0], fmt.Sprintf("a holds %v, b %v", ha, hb)
	})
	id := fmt.Sprintf("%05d", rand.IntN(100000))
	edge, core := "edge-"+id, "core-"+id
	createCluster(t, a, r, edge)
	createCluster(t, a, s.Stack, core)
	// Registering a Cluster may move another to the other shard (bounded loads), which is a
	// hand-over, not a double reconcile; wait until both replicas place both before the
	// Applications exist, so that each is reconciled by one replica from its first reconcile.
	eventually(t, 30*time.Second, "both replicas assign both clusters", func() (bool, string) {
		pa, pb := assignment(t, a), assignment(t, b)
		return pa[edge] != "" && pa[core] != "" && fmt.Sprint(pa) == fmt.Sprint(pb), fmt.Sprintf("a %v, b %v", pa, pb)
	})
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("shards")
	first := repo.Commit("main", map[string]string{"app/settings.yaml": configMapYAML("settings", "v1")}, "v1")
	apps := map[string]string{"edge-1": edge, "edge-2": edge, "core-1": core, "core-2": core}
	for name, cluster := range apps {
		_, err := a.client.GitopsV1alpha1().Applications(ns).Create(ctxFor(t), &gitopsv1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: "app"},
				Destination: gitopsv1alpha1.ApplicationDestination{Cluster: cluster, Namespace: ns + "-" + name},
				SyncPolicy: gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true},
					CreateNamespace: true, Interval: &metav1.Duration{Duration: 10 * time.Second}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name := range apps {
		waitAppOn(t, a, ns, name, name+" Synced", func(app *gitopsv1alpha1.Application) bool {
			return synced(app) && app.Status.Sync.Revision == first
		})
	}
	// Each Application was reconciled by one replica only.
	now := time.Now()
	byApp := map[string]map[string]bool{}
	for _, rep := range []*replica{a, b} {
		for app, spans := range reconcileSpans(t, rep, now) {
			if byApp[app] == nil {
				byApp[app] = map[string]bool{}
			}
			byApp[app][spans[0].replica] = true
		}
	}
	for name := range apps {
		if len(byApp[ns+"/"+name]) != 1 {
			t.Errorf("%s was reconciled by %v, want exactly one replica", name, byApp[ns+"/"+name])
		}
	}

	// The replica that reconciles edge-1 dies; the other takes its shard over.
	victim, survivor := a, b
	if !byApp[ns+"/edge-1"]["a"] {
		victim, survivor = b, a
	}
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-victim.exited
	killed := time.Now()
	second := repo.Commit("main", map[string]string{"app/settings.yaml": configMapYAML("settings", "v2")}, "v2")
	eventually(t, 30*time.Second, "the survivor holds both shards", func() (bool, string) {
		h := heldShards(t, survivor)
		return len(h) == 2, fmt.Sprint(h)
	})
	t.Logf("replica %s took over replica %s's shard %s after it was killed (lease duration 4s)", survivor.name, victim.name, time.Since(killed).Round(100*time.Millisecond))
	for name := range apps {
		waitAppOn(t, survivor, ns, name, name+" Synced at the second commit", func(app *gitopsv1alpha1.Application) bool {
			return synced(app) && app.Status.Sync.Revision == second
		})
	}
	if v, _ := remoteKubectl(t, r, "get", "configmap", "settings", "-n", ns+"-edge-1", "-o", "jsonpath={.data.value}"); v != "v2" {
		t.Errorf("edge-1's settings on the edge cluster: %q, want v2", v)
	}

	// Never both at once: no reconcile of one Application by one replica overlaps one by the
	// other.
	spans := map[string][]span{}
	for _, rep := range []*replica{victim, survivor} {
		for app, sp := range reconcileSpans(t, rep, killed) {
			spans[app] = append(spans[app], sp...)
		}
	}
	total := 0
	for app, sp := range spans {
		total += len(sp)
		sort.Slice(sp, func(i, j int) bool { return sp[i].start.Before(sp[j].start) })
		for i := 1; i < len(sp); i++ {
			if sp[i].replica != sp[i-1].replica && sp[i].start.Before(sp[i-1].end) {
				t.Errorf("%s was reconciled by %s from %s and by %s from %s, before the first ended at %s", app,
					sp[i-1].replica, sp[i-1].start.Format("15:04:05.000000"), sp[i].replica, sp[i].start.Format("15:04:05.000000"), sp[i-1].end.Format("15:04:05.000000"))
			}
		}
	}
	if total == 0 {
		t.Fatal("no reconcile lines in the replicas' logs: is -v=4 logging \"Reconcile started\"?")
	}
}
