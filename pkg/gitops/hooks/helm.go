package hooks

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

// Helm's hook annotations. On the objects of a plain directory or a kustomization (manifests
// exported from a chart, or written for `helm install`) Ferry honours them as Argo CD does, so
// that such repositories deploy unchanged. Ferry's and Argo CD's own annotations win: an object
// carrying either is read by those alone. A chart Ferry renders itself has its hooks converted
// when it is rendered (pkg/gitops/render/helm.go), to the same effect.
const (
	HelmAnnotation             = "helm.sh/hook"
	HelmDeletePolicyAnnotation = "helm.sh/hook-delete-policy"
	HelmWeightAnnotation       = "helm.sh/hook-weight"
)

// helmTypes is what a helm.sh/hook annotation means to a sync: pre-install and pre-upgrade run
// as PreSync hooks, post-install and post-upgrade as PostSync hooks. An object that names only
// Helm's other events (test, pre- and post-delete, pre- and post-rollback) is a hook that a sync
// never runs: Skip, neither applied nor kept. crd-install alone is no hook at all (Helm 2's way
// of installing CRDs first): the object is applied like any other. Events Helm itself would not
// know are ignored, as Helm and Argo CD ignore them. nil when the object carries no helm.sh/hook.
func helmTypes(obj *unstructured.Unstructured) []Type {
	value, ok := obj.GetAnnotations()[HelmAnnotation]
	if !ok {
		return nil
	}
	var out []Type
	other := false
	for _, part := range strings.Split(value, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "pre-install", "pre-upgrade":
			out = appendOnce(out, PreSync)
		case "post-install", "post-upgrade":
			out = appendOnce(out, PostSync)
		case "crd-install", "":
		default:
			other = true
		}
	}
	if out == nil && other {
		return []Type{Skip}
	}
	return out
}

// helmDeletePolicies maps helm.sh/hook-delete-policy to Ferry's delete policies; nil when the
// object names none Ferry knows.
func helmDeletePolicies(obj *unstructured.Unstructured) []DeletePolicy {
	value, ok := obj.GetAnnotations()[HelmDeletePolicyAnnotation]
	if !ok {
		return nil
	}
	var out []DeletePolicy
	for _, part := range strings.Split(value, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "before-hook-creation":
			out = appendOnce(out, BeforeHookCreation)
		case "hook-succeeded":
			out = appendOnce(out, HookSucceeded)
		case "hook-failed":
			out = appendOnce(out, HookFailed)
		}
	}
	return out
}

// waveOf is a hook's sync wave: the one Ferry's or Argo CD's annotation names, else Helm's
// hook weight (a whole number, as Helm requires), else 0.
func waveOf(obj *unstructured.Unstructured) (int32, error) {
	annotations := obj.GetAnnotations()
	_, ferry := annotations[syncwave.Annotation]
	_, argo := annotations[syncwave.ArgoCDAnnotation]
	weight, helm := annotations[HelmWeightAnnotation]
	if ferry || argo || !helm {
		return syncwave.Of(obj)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(weight), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("annotation %s: %q is not a whole number (a hook weight such as -1, 0 or 5)", HelmWeightAnnotation, weight)
	}
	return int32(n), nil
}

func appendOnce[T comparable](list []T, v T) []T {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
