// Package gitops is the internal (hub) version of Ferry's gitops.ferry.dev API. Every served
// version converts to and from these types; they carry no serialisation tags.
//
// +k8s:deepcopy-gen=package
// +groupName=gitops.ferry.dev
package gitops
