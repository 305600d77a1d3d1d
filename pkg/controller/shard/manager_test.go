package shard

import (
	"context"
	"fmt"
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
