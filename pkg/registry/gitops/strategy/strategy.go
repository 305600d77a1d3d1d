// Package strategy holds what the registry strategies of Ferry's kinds answer alike — the
// defaults of a rest strategy, the fields server-side apply resets on the main resource and on
// /status, the generation rule, and the list filter — so that each kind's strategy says only what
// is its own: which fields are spec and status, and how it is validated.
package strategy

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Defaults are the answers of a strategy for a kind written by users: no create on update,
// unconditional updates allowed (optimistic concurrency only when the client sends a
// resourceVersion), nothing to canonicalize, no warnings. Embed it.
type Defaults struct{}

// WarningsOnCreate returns no warnings.
func (Defaults) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

// AllowCreateOnUpdate refuses to create through an update.
func (Defaults) AllowCreateOnUpdate(context.Context) bool { return false }

// AllowUnconditionalUpdate allows updates without a resourceVersion.
func (Defaults) AllowUnconditionalUpdate(context.Context) bool { return true }

// Canonicalize does nothing.
func (Defaults) Canonicalize(runtime.Object) {}

// WarningsOnUpdate returns no warnings.
func (Defaults) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// StatusReset is GetResetFields of a main resource: status is not the user's to set there.
func StatusReset() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// SpecReset is GetResetFields of a /status subresource: spec and labels are not the
// controller's to set there.
func SpecReset() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
		),
	}
}

// NextGeneration sets obj's generation after an update: old's, plus one when the spec changed.
func NextGeneration(obj, old metav1.Object, spec, oldSpec any) {
	obj.SetGeneration(old.GetGeneration())
	if !apiequality.Semantic.DeepEqual(spec, oldSpec) {
		obj.SetGeneration(old.GetGeneration() + 1)
	}
}

// Match is the list and watch filter of a kind whose selectable fields are its metadata's.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}

// GetAttrs returns the labels and the metadata fields (name, and namespace when it has one) of
// an object.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	a, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, nil, fmt.Errorf("given object has no metadata: %T", obj)
	}
	om, ok := a.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		return nil, nil, fmt.Errorf("given object's metadata is a %T", a.GetObjectMeta())
	}
	return labels.Set(om.Labels), generic.ObjectMetaFieldsSet(om, om.Namespace != ""), nil
}
