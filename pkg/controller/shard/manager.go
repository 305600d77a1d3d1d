package shard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/ferry-gitops/ferry/pkg/controller/leader"
)

// Names of the Leases.
const (
	// MemberLabel marks the Lease each running replica renews to say it is alive.
	MemberLabel = "gitops.ferry.dev/controller-member"
	// ShardLeasePrefix names the Lease of shard i: ferry-shard-<i>.
	ShardLeasePrefix  = "ferry-shard-"
	memberLeasePrefix = "ferry-member-"
)

// Config configures a Manager.
type Config struct {
	Leases    coordinationclient.LeasesGetter
	Namespace string
	// Identity names this replica; unique per process.
	Identity string
	// Shards is the number of shards; zero means one per live replica.
	Shards int
	// LeaseDuration, RenewDeadline and RetryPeriod time the shard elections and the membership.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Clusters lists the registered Clusters' names; the cluster Ferry runs in is added.
	Clusters func() []string
	// OnChange is told when the clusters this replica reconciles changed.
	OnChange func()
}

// Manager holds this replica's shards and says which clusters it reconciles.
type Manager struct {
	cfg Config

	mu       sync.Mutex
	shards   int
	clusters []string       // as of the last round, InCluster first
	assign   map[string]int // of clusters
	// unregistered caches the shards of names no Cluster has, as of the last round.
	unregistered map[string]int
	running      map[int]context.CancelFunc
	held         map[int]*heldShard
	owned        map[string]time.Time // clusters reconciled here, since when
	members      []string
}

type heldShard struct {
	ctx context.Context
	// gate is read-held by every reconcile of one of the shard's clusters; giving the shard up
	// takes it for writing, so the Lease is released only once they have finished.
	gate sync.RWMutex
}

var shardsHeld = metrics.NewGauge(&metrics.GaugeOpts{
	Namespace: "ferry", Name: "controller_shards_held",
	Help:           "Shards of Applications (by destination cluster) this replica holds and reconciles.",
	StabilityLevel: metrics.ALPHA,
})

var registerOnce sync.Once

// New returns a Manager; Run starts it.
func New(cfg Config) *Manager {
	registerOnce.Do(func() { legacyregistry.MustRegister(shardsHeld) })
	return &Manager{cfg: cfg, running: map[int]context.CancelFunc{}, held: map[int]*heldShard{}, owned: map[string]time.Time{}, assign: map[string]int{}}
}

// Grace is how long a replica waits after it gains a cluster before it reconciles it: long enough
// for the replica that had it to see the same change and stop.
func (m *Manager) Grace() time.Duration { return 2 * m.cfg.RetryPeriod }

// key is a cluster's name in the assignment.
func key(cluster string) string {
	if cluster == "" {
		return InCluster
	}
	return cluster
}

// Hold says whether this replica reconciles an Application of cluster now. While release has not
// been called the shard is not given up; ctx is cancelled should it be lost. A cluster gained
// less than Grace ago is not reconciled yet: wait says how long until it is.
func (m *Manager) Hold(ctx context.Context, cluster string) (held context.Context, release func(), wait time.Duration, ok bool) {
	k := key(cluster)
	m.mu.Lock()
	s, assigned := m.shardOfLocked(k)
	h := m.held[s]
	since, owned := m.owned[k]
	if assigned && h != nil && !owned {
		// A name no Cluster has: its shard's holder reconciles it, with no grace.
		since, owned = time.Time{}, true
	}
	m.mu.Unlock()
	if !assigned || h == nil || !owned {
		return nil, nil, 0, false
	}
	if left := m.Grace() - time.Since(since); left > 0 {
		return nil, nil, left, false
	}
	if !h.gate.TryRLock() {
		return nil, nil, 0, false
	}
	held, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(h.ctx, cancel)
	return held, func() {
		stop()
		cancel()
		h.gate.RUnlock()
	}, 0, true
}

// shardOfLocked is the shard of a cluster: its assignment, or, for a name no Cluster has (an
// Application created just before its Cluster, or waiting for it), the shard it will take once
// registered. Every replica then agrees on it whether or not it has seen the Cluster yet, and the
// Cluster's registration moves none of its Applications.
func (m *Manager) shardOfLocked(k string) (int, bool) {
	if m.shards == 0 {
		return 0, false
	}
	if s, ok := m.assign[k]; ok {
		return s, true
	}
	if s, ok := m.unregistered[k]; ok {
		return s, true
	}
	if m.unregistered == nil {
		m.unregistered = map[string]int{}
	}
	s := Assign(append(append([]string(nil), m.clusters...), k), m.shards)[k]
	m.unregistered[k] = s
	return s, true
}

// Owned lists the clusters this replica reconciles, for logs and tests.
func (m *Manager) Owned() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.owned))
	for c := range m.owned {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Run renews this replica's membership, follows the others', and competes for the shards it is
// the preferred owner of, until ctx is done; then it gives every shard up and leaves.
func (m *Manager) Run(ctx context.Context) {
	logger := klog.FromContext(ctx).WithName("shards").WithValues("identity", m.cfg.Identity)
	ctx = klog.NewContext(ctx, logger)
	ticker := time.NewTicker(m.cfg.RetryPeriod)
	defer ticker.Stop()
	for {
		m.step(ctx)
		select {
		case <-ctx.Done():
			m.leave(logger)
			return
		case <-ticker.C:
		}
	}
}

// step is one round: membership, the number of shards, the campaigns, the assignment.
func (m *Manager) step(ctx context.Context) {
	logger := klog.FromContext(ctx)
	if err := m.renewMember(ctx); err != nil {
		logger.V(2).Info("Cannot renew this replica's membership Lease", "err", err)
	}
	members, err := m.liveMembers(ctx)
	if err != nil {
		logger.V(2).Info("Cannot list the replicas", "err", err)
		return
	}
	n := m.cfg.Shards
	if n == 0 {
		n = max(1, len(members))
	}
	clusters := append([]string{InCluster}, m.cfg.Clusters()...)
	assign := Assign(clusters, n)

	m.mu.Lock()
	if n != m.shards || fmt.Sprint(members) != fmt.Sprint(m.members) {
		logger.Info("Shards", "shards", n, "replicas", members)
	}
	if n != m.shards || !maps.Equal(assign, m.assign) {
		logger.V(4).Info("Assigned the clusters to shards", "assignment", describe(assign))
		if n == m.shards {
			m.keepRegisteredLocked(assign)
		}
	}
	m.shards, m.clusters, m.assign, m.members, m.unregistered = n, clusters, assign, members, nil
	owners := Owners(n, members)
	for i := 0; i < n; i++ {
		want := owners[i] == m.cfg.Identity
		if cancel, ok := m.running[i]; ok && !want {
			logger.Info("Giving up a shard to the replica it belongs to now", "shard", i, "to", owners[i])
			cancel()
			delete(m.running, i)
		} else if !ok && want {
			m.campaignLocked(ctx, i)
		}
	}
	for i, cancel := range m.running {
		if i >= n {
			cancel()
			delete(m.running, i)
		}
	}
	changed := m.refreshOwnedLocked()
	m.mu.Unlock()
	if changed && m.cfg.OnChange != nil {
		m.cfg.OnChange()
	}
}

// keepRegisteredLocked carries over, for a Cluster registered since the last round, the time it
// was gained when this replica already reconciled its Applications in the same shard (as a name
// no Cluster had): its registration moved nothing, so it waits no grace.
func (m *Manager) keepRegisteredLocked(next map[string]int) {
	for c, s := range next {
		if _, known := m.assign[c]; known {
			continue
		}
		if before, ok := m.shardOfLocked(c); ok && before == s && m.held[s] != nil {
			if _, owned := m.owned[c]; !owned {
				m.owned[c] = time.Time{}
			}
		}
	}
}

// describe prints an assignment as cluster=shard pairs in the clusters' order, for logs.
func describe(assign map[string]int) string {
	names := slices.Sorted(maps.Keys(assign))
	parts := make([]string, len(names))
	for i, c := range names {
		parts[i] = fmt.Sprintf("%s=%d", c, assign[c])
	}
	return strings.Join(parts, ",")
}

// campaignLocked competes for shard i's Lease until its campaign is cancelled.
func (m *Manager) campaignLocked(ctx context.Context, i int) {
	campaign, cancel := context.WithCancel(ctx)
	m.running[i] = cancel
	go func() {
		m.clearExpired(campaign, i)
		err := leader.Run(campaign, leader.Config{
			Client: m.cfg.Leases, Namespace: m.cfg.Namespace, Name: fmt.Sprintf("%s%d", ShardLeasePrefix, i), Identity: m.cfg.Identity,
			LeaseDuration: m.cfg.LeaseDuration, RenewDeadline: m.cfg.RenewDeadline, RetryPeriod: m.cfg.RetryPeriod,
		}, func(ctx context.Context) { m.hold(ctx, i) })
		if err != nil {
			klog.FromContext(ctx).Error(err, "Competing for a shard", "shard", i)
		}
	}()
}

// clearExpired empties the holder of shard i's Lease when its last renewal is older than its
// duration: its holder is gone (its membership has lapsed too, or this replica would not be
// campaigning). client-go's election would otherwise wait one more lease duration from its own
// first look before taking it. The write is conditional on the Lease's resourceVersion, so a
// holder that renewed meanwhile keeps it.
func (m *Manager) clearExpired(ctx context.Context, i int) {
	leases := m.cfg.Leases.Leases(m.cfg.Namespace)
	lease, err := leases.Get(ctx, fmt.Sprintf("%s%d", ShardLeasePrefix, i), metav1.GetOptions{})
	if err != nil {
		return
	}
	sp := lease.Spec
	if sp.HolderIdentity == nil || *sp.HolderIdentity == "" || *sp.HolderIdentity == m.cfg.Identity || sp.RenewTime == nil || sp.LeaseDurationSeconds == nil {
		return
	}
	if time.Since(sp.RenewTime.Time) < time.Duration(*sp.LeaseDurationSeconds)*time.Second {
		return
	}
	previous := *sp.HolderIdentity
	lease.Spec.HolderIdentity = ptr.To("")
	if _, err := leases.Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
		klog.FromContext(ctx).Info("Took over the expired Lease of a shard", "shard", i, "from", previous)
	}
}

// hold is one term of holding shard i: its clusters are reconciled here until ctx ends, and the
// term ends only once their reconciles in flight have.
func (m *Manager) hold(ctx context.Context, i int) {
	logger := klog.FromContext(ctx)
	h := &heldShard{ctx: ctx}
	m.mu.Lock()
	m.held[i] = h
	shardsHeld.Set(float64(len(m.held)))
	changed := m.refreshOwnedLocked()
	m.mu.Unlock()
	logger.Info("Holding a shard", "shard", i)
	if changed && m.cfg.OnChange != nil {
		m.cfg.OnChange()
	}
	<-ctx.Done()
	m.mu.Lock()
	delete(m.held, i)
	shardsHeld.Set(float64(len(m.held)))
	m.refreshOwnedLocked()
	m.mu.Unlock()
	h.gate.Lock() // the shard's reconciles in flight see ctx done and finish
	logger.Info("Released a shard", "shard", i)
}

// refreshOwnedLocked recomputes the clusters reconciled here, keeping when each was gained;
// it reports whether the set changed.
func (m *Manager) refreshOwnedLocked() bool {
	now := time.Now()
	next := map[string]time.Time{}
	for c, s := range m.assign {
		if m.held[s] != nil {
			if since, ok := m.owned[c]; ok {
				next[c] = since
			} else {
				next[c] = now
			}
		}
	}
	changed := len(next) != len(m.owned)
	for c := range next {
		if _, ok := m.owned[c]; !ok {
			changed = true
		}
	}
	m.owned = next
	return changed
}

func (m *Manager) memberLease() string {
	sum := sha256.Sum256([]byte(m.cfg.Identity))
	return memberLeasePrefix + hex.EncodeToString(sum[:8])
}

// renewMember creates or renews this replica's membership Lease.
func (m *Manager) renewMember(ctx context.Context) error {
	leases := m.cfg.Leases.Leases(m.cfg.Namespace)
	now := metav1.NewMicroTime(time.Now())
	seconds := int32(m.cfg.LeaseDuration.Seconds())
	lease, err := leases.Get(ctx, m.memberLease(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: m.memberLease(), Labels: map[string]string{MemberLabel: "true"}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(m.cfg.Identity), LeaseDurationSeconds: &seconds,
				AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds, lease.Spec.RenewTime = ptr.To(m.cfg.Identity), &seconds, &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// liveMembers are the identities whose membership Lease was renewed within its duration.
func (m *Manager) liveMembers(ctx context.Context) ([]string, error) {
	list, err := m.cfg.Leases.Leases(m.cfg.Namespace).List(ctx, metav1.ListOptions{LabelSelector: MemberLabel + "=true"})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range list.Items {
		s := l.Spec
		if s.HolderIdentity == nil || s.RenewTime == nil || s.LeaseDurationSeconds == nil {
			continue
		}
		if time.Since(s.RenewTime.Time) < time.Duration(*s.LeaseDurationSeconds)*time.Second {
			out = append(out, *s.HolderIdentity)
		}
	}
	sort.Strings(out)
	return out, nil
}

// leave gives up every shard and deletes the membership Lease, so the others take over at once.
func (m *Manager) leave(logger klog.Logger) {
	m.mu.Lock()
	for i, cancel := range m.running {
		cancel()
		delete(m.running, i)
	}
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.cfg.Leases.Leases(m.cfg.Namespace).Delete(ctx, m.memberLease(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		logger.V(2).Info("Cannot delete this replica's membership Lease", "err", err)
	}
}
