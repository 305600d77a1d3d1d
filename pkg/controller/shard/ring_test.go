package shard

import (
	"fmt"
	"math"
	"testing"
)

func clusterNames(n int) []string {
	out := []string{InCluster}
	for i := 1; i < n; i++ {
		out = append(out, fmt.Sprintf("cluster-%03d", i))
	}
	return out
}

// TestAssignBoundsEachShardsLoad: no shard holds more than LoadFactor times its share, and every
// cluster has a shard.
func TestAssignBoundsEachShardsLoad(t *testing.T) {
	for _, shards := range []int{2, 3, 5, 8} {
		clusters := clusterNames(200)
		a := Assign(clusters, shards)
		load := make([]int, shards)
		for _, c := range clusters {
			s, ok := a[c]
			if !ok || s < 0 || s >= shards {
				t.Fatalf("%d shards: cluster %s has shard %d (assigned %v)", shards, c, s, ok)
			}
			load[s]++
		}
		limit := int(math.Ceil(LoadFactor * 200 / float64(shards)))
		for s, l := range load {
			if l > limit || l == 0 {
				t.Errorf("%d shards: shard %d holds %d clusters, want 1..%d (%v)", shards, s, l, limit, load)
			}
		}
	}
}

// TestAShardJoiningMovesFewClusters: going from 3 to 4 shards moves about a quarter of the
// clusters (what must move), not most of them as a modulo would.
func TestAShardJoiningMovesFewClusters(t *testing.T) {
	clusters := clusterNames(400)
	before, after := Assign(clusters, 3), Assign(clusters, 4)
	moved := 0
	for _, c := range clusters {
		if before[c] != after[c] {
			moved++
		}
	}
	// A quarter must move to fill the new shard; bounded loads move a few more.
	if moved > len(clusters)*40/100 {
		t.Errorf("3 → 4 shards moved %d of %d clusters, want at most 40%%", moved, len(clusters))
	}
	modulo := 0
	for i := range clusters {
		if i%3 != i%4 {
			modulo++
		}
	}
	if moved >= modulo {
		t.Errorf("consistent hashing moved %d clusters, no better than a modulo's %d", moved, modulo)
	}
}

// TestOwnersShareTheShardsAndMoveOnlyTheLeavers: every member holds its share, and when one
// leaves, the shards of the others stay where they were.
func TestOwnersShareTheShardsAndMoveOnlyTheLeavers(t *testing.T) {
	members := []string{"a", "b", "c"}
	before := Owners(9, members)
	load := map[string]int{}
	for _, o := range before {
		load[o]++
	}
	if load["a"] != 3 || load["b"] != 3 || load["c"] != 3 {
		t.Errorf("9 shards over 3 members: %v", load)
	}
	if two := Owners(2, []string{"x", "y"}); two[0] == two[1] {
		t.Errorf("2 shards over 2 members both went to %s", two[0])
	}
	after := Owners(9, []string{"a", "c"})
	for s := range before {
		if before[s] != "b" && after[s] != before[s] {
			t.Errorf("shard %d moved from %s to %s when b left", s, before[s], after[s])
		}
		if after[s] == "b" {
			t.Errorf("shard %d still belongs to b, which left", s)
		}
	}
}
