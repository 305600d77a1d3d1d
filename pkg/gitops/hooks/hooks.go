// Package hooks reads which objects of a render are sync hooks: objects (Jobs, typically) that a
// sync runs at a point of its own — before anything is applied, with a wave, after everything is
// Healthy, or when the sync fails — and waits for, instead of keeping them applied. Hooks are no
// part of an Application's inventory: never compared, never OutOfSync, never pruned. Argo CD's
// annotations are read too, so that repositories written for it deploy unchanged; Ferry's win
// when an object carries both.
//
// Everything about what a hook is lives here: its annotations, splitting a render into the
// Application's resources and its hooks (Split), and judging a hook object finished (Finished).
// Running hooks at their point of a sync is the engine's (engine/hooks.go, engine/ordered.go);
// creating and deleting hook objects as the Application's identity is the applier's
// (apply/hooks.go).
package hooks

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The annotations of a hook.
const (
	Annotation                   = "gitops.ferry.dev/hook"
	DeletePolicyAnnotation       = "gitops.ferry.dev/hook-delete-policy"
	ArgoCDAnnotation             = "argocd.argoproj.io/hook"
	ArgoCDDeletePolicyAnnotation = "argocd.argoproj.io/hook-delete-policy"
	// OfAnnotation, set by Ferry on a hook object, names the Application that ran it.
	OfAnnotation = "gitops.ferry.dev/hook-of"
)

// Type is when a hook runs.
type Type string

// Hook types, in the order a sync runs them.
const (
	// PreSync hooks run, and must succeed, before anything is applied.
	PreSync Type = "PreSync"
	// Sync hooks run with their sync wave, after its objects are applied.
	Sync Type = "Sync"
	// PostSync hooks run after every wave is applied and Healthy.
	PostSync Type = "PostSync"
	// SyncFail hooks run when the sync fails.
	SyncFail Type = "SyncFail"
	// Skip (Argo CD's) means: do not apply the object at all.
	Skip Type = "Skip"
)

// DeletePolicy says when a hook object is deleted.
type DeletePolicy string

// Delete policies.
const (
	// BeforeHookCreation deletes the object of the previous run just before the hook runs again
	// (the default): the last run stays to be looked at.
	BeforeHookCreation DeletePolicy = "BeforeHookCreation"
	// HookSucceeded deletes the object once the hook succeeded.
	HookSucceeded DeletePolicy = "HookSucceeded"
	// HookFailed deletes the object once the hook failed.
	HookFailed DeletePolicy = "HookFailed"
)

var types = []Type{PreSync, Sync, PostSync, SyncFail, Skip}

// Of returns the hook types an object's annotations name (one or more, comma-separated), nil for
// an ordinary object.
func Of(obj *unstructured.Unstructured) ([]Type, error) {
	key, value, ok := first(obj, Annotation, ArgoCDAnnotation)
	if !ok {
		return helmTypes(obj), nil
	}
	var out []Type
	for _, part := range strings.Split(value, ",") {
		t := Type(strings.TrimSpace(part))
		if !slices.Contains(types, t) {
			return nil, fmt.Errorf("annotation %s: %q is not a hook type (PreSync, Sync, PostSync, SyncFail or Skip)", key, part)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// DeletePoliciesOf returns an object's hook delete policies; BeforeHookCreation when it names none.
func DeletePoliciesOf(obj *unstructured.Unstructured) ([]DeletePolicy, error) {
	key, value, ok := first(obj, DeletePolicyAnnotation, ArgoCDDeletePolicyAnnotation)
	if !ok {
		if _, _, own := first(obj, Annotation, ArgoCDAnnotation); !own {
			if helm := helmDeletePolicies(obj); helm != nil {
				return helm, nil
			}
		}
		return []DeletePolicy{BeforeHookCreation}, nil
	}
	var out []DeletePolicy
	for _, part := range strings.Split(value, ",") {
		p := DeletePolicy(strings.TrimSpace(part))
		switch p {
		case BeforeHookCreation, HookSucceeded, HookFailed:
		default:
			return nil, fmt.Errorf("annotation %s: %q is not a hook delete policy (BeforeHookCreation, HookSucceeded or HookFailed)", key, part)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// IsHook reports whether an object names itself a hook (of any type, Skip included), whatever
// else its annotations say; render lets such objects use metadata.generateName. Helm's
// annotation counts when it names an event (crd-install alone does not).
func IsHook(obj *unstructured.Unstructured) bool {
	if _, _, ok := first(obj, Annotation, ArgoCDAnnotation); ok {
		return true
	}
	return helmTypes(obj) != nil
}

// first is the value of the first annotation of keys the object carries.
func first(obj *unstructured.Unstructured, keys ...string) (string, string, bool) {
	annotations := obj.GetAnnotations()
	for _, k := range keys {
		if v, ok := annotations[k]; ok {
			return k, v, true
		}
	}
	return "", "", false
}
