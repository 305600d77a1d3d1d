package shard

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

func newTestManager(client *fake.Clientset, identity string, changes *atomic.Int32) *Manager {
	return New(Config{
		Leases: client.CoordinationV1(), Namespace: "ferry-system", Identity: identity, Shards: 2,
		LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 200 * time.Millisecond,
		Clusters: func() []string { return []string{"edge", "core"} },
		OnChange: func() { changes.Add(1) },
	})
}

// holds says which of the clusters m reconciles now.
func holds(m *Manager, clusters ...string) string {
	var out []string
	for _, c := range clusters {
		if _, release, _, ok := m.Hold(context.Background(), c); ok {
			release()
			out = append(out, c)
		}
	}
	return fmt.Sprint(out)
}

// TestTwoManagersSplitTheShardsAndTheSurvivorTakesBoth: two replicas hold one shard each, every
// cluster is reconciled by exactly one of them, and when one leaves the other holds everything.
func TestTwoManagersSplitTheShardsAndTheSurvivorTakesBoth(t *testing.T) {
	client := fake.NewClientset()
	var changes atomic.Int32
	a, b := newTestManager(client, "a", &changes), newTestManager(client, "b", &changes)
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	go a.Run(ctxA)
	go b.Run(ctxB)
	clusters := []string{"", "edge", "core", "not-registered"}
	eventually.Until(t, 20*time.Second, 50*time.Millisecond, "each cluster reconciled by exactly one replica", func() (bool, string) {
		for _, c := range clusters {
			_, ra, _, okA := a.Hold(context.Background(), c)
			_, rb, _, okB := b.Hold(context.Background(), c)
			if okA {
				ra()
			}
			if okB {
				rb()
			}
			if okA == okB {
				return false, fmt.Sprintf("cluster %q: a %v, b %v (a holds %s, b %s)", c, okA, okB, holds(a, clusters...), holds(b, clusters...))
			}
		}
		return len(a.held) == 1 && len(b.held) == 1, fmt.Sprintf("a holds %d shards, b %d", len(a.held), len(b.held))
	})
	// A reconcile in flight on a keeps a's shard from b until it ends: a leaving cancels the
	// reconcile's context, and b gets the shard only once it has returned.
	var mine string
	for _, c := range clusters {
		if _, release, _, ok := a.Hold(context.Background(), c); ok {
			release()
			mine = c
			break
		}
	}
	inflight, release, _, ok := a.Hold(context.Background(), mine)
	if !ok {
		t.Fatalf("a does not hold %q any more", mine)
	}
	stopA()
	<-inflight.Done() // a told its reconcile to stop
	window := time.Now().Add(3 * time.Second)
	for time.Now().Before(window) {
		if _, rb, _, ok := b.Hold(context.Background(), mine); ok {
			rb()
			t.Fatalf("b reconciles %q while a's reconcile of it is still running", mine)
		}
		time.Sleep(50 * time.Millisecond) // observing a window, not waiting for an event
	}
	release()
	eventually.Until(t, 20*time.Second, 50*time.Millisecond, "b reconciles every cluster", func() (bool, string) {
		got := holds(b, clusters...)
		return got == fmt.Sprint(clusters), got
	})
	if changes.Load() == 0 {
		t.Error("OnChange was never called")
	}
}

// TestAClusterSeenByOneReplicaOnlyHasOneHolder: a Cluster registered a moment ago, known to one
// replica and not yet to the other, is reconciled by exactly one of them, and by the same one
// once both know it; so an Application created right after its Cluster is never reconciled by
// both replicas in turn.
func TestAClusterSeenByOneReplicaOnlyHasOneHolder(t *testing.T) {
	client := fake.NewClientset()
	base := []string{"edge", "core"}
	var viewA, viewB atomic.Pointer[[]string]
	viewA.Store(&base)
	viewB.Store(&base)
	newManager := func(identity string, view *atomic.Pointer[[]string]) *Manager {
		return New(Config{
			Leases: client.CoordinationV1(), Namespace: "ferry-system", Identity: identity, Shards: 2,
			LeaseDuration: 2 * time.Second, RenewDeadline: 1500 * time.Millisecond, RetryPeriod: 100 * time.Millisecond,
			Clusters: func() []string { return *view.Load() },
		})
	}
	a, b := newManager("a", &viewA), newManager("b", &viewB)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go a.Run(ctx)
	go b.Run(ctx)
	holder := func(c string) (string, bool) {
		_, ra, _, okA := a.Hold(ctx, c)
		_, rb, _, okB := b.Hold(ctx, c)
		if okA {
			ra()
		}
		if okB {
			rb()
		}
		switch {
		case okA && !okB:
			return "a", true
		case okB && !okA:
			return "b", true
		}
		dump := func(m *Manager) string {
			m.mu.Lock()
			defer m.mu.Unlock()
			return fmt.Sprintf("held %v owned %v assign %v unreg %v", slices.Collect(maps.Keys(m.held)), m.owned, m.assign, m.unregistered)
		}
		return fmt.Sprintf("a %v, b %v [a: %s] [b: %s]", okA, okB, dump(a), dump(b)), false
	}
	eventually.Until(t, 20*time.Second, 20*time.Millisecond, "each replica holds a shard", func() (bool, string) {
		a.mu.Lock()
		b.mu.Lock()
		defer a.mu.Unlock()
		defer b.mu.Unlock()
		return len(a.held) == 1 && len(b.held) == 1, fmt.Sprintf("a holds %d shards, b %d", len(a.held), len(b.held))
	})
	// Enough names that some would land on each shard whatever the hashes.
	for i := 0; i < 12; i++ {
		late := fmt.Sprintf("late-%02d", i)
		before, ok := holder(late)
		if !ok {
			t.Fatalf("%s, known to neither replica: %s", late, before)
		}
		withLate := append(append([]string(nil), base...), late)
		viewA.Store(&withLate) // a sees the new Cluster, b not yet
		eventually.Until(t, 10*time.Second, 20*time.Millisecond, "a assigns "+late, func() (bool, string) {
			a.mu.Lock()
			defer a.mu.Unlock()
			_, ok := a.assign[late]
			return ok, "not yet"
		})
		if got, ok := holder(late); !ok || got != before {
			t.Errorf("%s known to a only: held by %s, want %s alone as before", late, got, before)
		}
		viewB.Store(&withLate)
		eventually.Until(t, 10*time.Second, 20*time.Millisecond, "b assigns "+late, func() (bool, string) {
			b.mu.Lock()
			defer b.mu.Unlock()
			_, ok := b.assign[late]
			return ok, "not yet"
		})
		if got, ok := holder(late); !ok || got != before {
			t.Errorf("%s known to both: held by %s, want %s alone as before", late, got, before)
		}
		viewA.Store(&base)
		viewB.Store(&base)
		eventually.Until(t, 10*time.Second, 20*time.Millisecond, "neither assigns "+late, func() (bool, string) {
			a.mu.Lock()
			b.mu.Lock()
			defer a.mu.Unlock()
			defer b.mu.Unlock()
			_, okA := a.assign[late]
			_, okB := b.assign[late]
			return !okA && !okB, "not yet"
		})
	}
}
