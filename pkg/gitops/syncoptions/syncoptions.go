// Package syncoptions reads the per-object sync options Argo CD's users reach for most, from
// gitops.ferry.dev/sync-options or Argo CD's argocd.argoproj.io/sync-options (Ferry's wins when an
// object carries both): Prune=false keeps an object that left Git, Delete=false keeps it when its
// Application is deleted, Replace=true replaces it instead of applying it. Ferry always applies
// server-side, so ServerSideApply=true|false changes nothing. Ferry's own annotation refuses
// options it does not know; Argo CD's ignores them, so that repositories written for Argo CD
// deploy unchanged.
package syncoptions

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The annotations that hold an object's sync options.
const (
	Annotation       = "gitops.ferry.dev/sync-options"
	ArgoCDAnnotation = "argocd.argoproj.io/sync-options"
)

// Options are one object's sync options.
type Options struct {
	// NoPrune (Prune=false): never deleted because it left Git.
	NoPrune bool
	// NoDelete (Delete=false): kept when its Application is deleted.
	NoDelete bool
	// Replace (Replace=true): written with a replace (PUT) of the whole object, not an apply.
	Replace bool
}

// Of reads an object's sync options.
func Of(obj *unstructured.Unstructured) (Options, error) {
	var o Options
	annotations := obj.GetAnnotations()
	key, strict := Annotation, true
	value, ok := annotations[Annotation]
	if !ok {
		key, strict = ArgoCDAnnotation, false
		if value, ok = annotations[ArgoCDAnnotation]; !ok {
			return o, nil
		}
	}
	for _, part := range strings.Split(value, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, _ := strings.Cut(part, "=")
		var target *bool
		var when string
		switch name {
		case "Prune":
			target, when = &o.NoPrune, "false"
		case "Delete":
			target, when = &o.NoDelete, "false"
		case "Replace":
			target, when = &o.Replace, "true"
		case "ServerSideApply":
			if val == "true" || val == "false" {
				continue // always server-side
			}
		}
		switch {
		case target != nil && (val == "true" || val == "false"):
			*target = val == when
		case strict:
			return Options{}, fmt.Errorf("annotation %s: %q is not a sync option Ferry knows (Prune=false, Delete=false, Replace=true)", key, part)
		}
	}
	return o, nil
}
