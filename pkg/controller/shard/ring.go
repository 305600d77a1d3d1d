// Package shard divides the Applications among controller replicas by destination cluster.
// Clusters are assigned to shards by consistent hashing with bounded loads, so that a shard
// joining or leaving moves few clusters and no shard holds much more than its share; each shard is
// held by one replica through a coordination.k8s.io Lease.
package shard

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// Virtual points per shard on the hash ring: enough to spread clusters evenly.
const virtualPoints = 128

// LoadFactor bounds a shard's clusters to LoadFactor times the average (rounded up).
const LoadFactor = 1.25

// InCluster is the name the cluster Ferry runs in takes in the assignment.
const InCluster = "(in-cluster)"

func hash64(s string) uint64 {
	sum := sha256.Sum256([]byte(s))
	return binary.BigEndian.Uint64(sum[:8])
}

type point struct {
	hash  uint64
	shard int
}

// Assign maps each cluster to a shard in [0, shards): consistent hashing with bounded loads
// (Mirrokni, Thorup and Zadimoghaddam): a cluster goes to the first shard clockwise from its
// hash on the ring whose load is below LoadFactor times the average. The result depends only on
// the set of clusters and the number of shards, so every replica computes the same one.
func Assign(clusters []string, shards int) map[string]int {
	out := make(map[string]int, len(clusters))
	if shards <= 1 {
		for _, c := range clusters {
			out[c] = 0
		}
		return out
	}
	ring := make([]point, 0, shards*virtualPoints)
	for s := 0; s < shards; s++ {
		for v := 0; v < virtualPoints; v++ {
			ring = append(ring, point{hash: hash64(fmt.Sprintf("shard-%d-%d", s, v)), shard: s})
		}
	}
	sort.Slice(ring, func(i, j int) bool { return ring[i].hash < ring[j].hash })
	sorted := append([]string(nil), clusters...)
	sort.Strings(sorted)
	capacity := int(math.Ceil(LoadFactor * float64(len(sorted)) / float64(shards)))
	load := make([]int, shards)
	for _, c := range sorted {
		h := hash64("cluster-" + c)
		i := sort.Search(len(ring), func(i int) bool { return ring[i].hash >= h })
		for n := 0; n < len(ring); n++ {
			p := ring[(i+n)%len(ring)]
			if load[p.shard] < capacity {
				load[p.shard]++
				out[c] = p.shard
				break
			}
		}
	}
	return out
}

// Owners gives each shard in [0, shards) the member that should hold it: shards in order, each
// to the member with the highest hash(shard, member) (rendezvous hashing) among those holding
// fewer than their share, rounded up. Every replica computes the same owners from the same
// members, a member leaving moves only its own shards (while the others have room), and no
// member holds more than its share.
func Owners(shards int, members []string) []string {
	owners := make([]string, shards)
	if len(members) == 0 {
		return owners
	}
	share := (shards + len(members) - 1) / len(members)
	load := map[string]int{}
	for s := 0; s < shards; s++ {
		best, bestHash := "", uint64(0)
		for _, m := range members {
			if load[m] >= share {
				continue
			}
			if h := hash64(fmt.Sprintf("%d/%s", s, m)); best == "" || h > bestHash || h == bestHash && m < best {
				best, bestHash = m, h
			}
		}
		owners[s] = best
		load[best]++
	}
	return owners
}
