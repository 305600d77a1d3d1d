package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// maxExpandedNodes bounds how many YAML nodes one document may stand for once its aliases are
// expanded. kustomize parses into node trees, where an alias is one node, but copies the aliased
// value each time it turns a document into maps: a few hundred bytes of nested aliases ("a
// billion laughs") become gigabytes there. A million nodes is a document far larger than any
// manifest, and still a few hundred MiB at most.
const maxExpandedNodes = 1_000_000

// checkAliases refuses a YAML file whose aliases expand to more than limit nodes in any
// document. Files with no alias (no '*') cost one byte scan; files kustomize would not parse as
// YAML are left to kustomize, which says what is wrong with them.
func checkAliases(name string, data []byte, limit int) error {
	if !bytes.Contains(data, []byte("*")) {
		return nil
	}
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n kyaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return nil // not YAML: kustomize reports it (or it is a generator's data file)
		}
		if expanded := expandedSize(&n, map[*kyaml.Node]int{}, limit); expanded > limit {
			return &Error{File: name, Reason: fmt.Sprintf("document %d: YAML aliases expand to more than %d nodes: refused (a nested-alias document can exhaust the server's memory; write the values out instead)", doc, limit)}
		}
	}
}

// expandedSize counts the nodes n stands for with every alias replaced by a copy of its anchor,
// stopping early once past limit. Sizes are memoised per node, so nested aliases cost the tree's
// size to count, not their expansion.
func expandedSize(n *kyaml.Node, memo map[*kyaml.Node]int, limit int) int {
	if n == nil {
		return 0
	}
	if size, ok := memo[n]; ok {
		return size
	}
	memo[n] = limit + 1 // an alias cycle counts as unbounded
	size := 1
	if n.Kind == kyaml.AliasNode {
		size = expandedSize(n.Alias, memo, limit)
	} else {
		for _, c := range n.Content {
			size += expandedSize(c, memo, limit)
			if size > limit {
				break
			}
		}
	}
	if size > limit {
		size = limit + 1
	}
	memo[n] = size
	return size
}

// CheckAliases refuses a YAML file whose aliases expand to more than limit nodes in any
// document, for readers of YAML from Git other than renders (an ApplicationSet's parameter
// files).
func CheckAliases(name string, data []byte, limit int) error {
	return checkAliases(name, data, limit)
}
