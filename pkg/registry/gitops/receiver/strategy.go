// Package receiver holds the storage of Receivers: the strategies that decide what a write and a
// status write may change, the write-time checks of what a Receiver names (its Secret, and the
// right to refresh the Applications it selects), and the table kubectl prints.
package receiver

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
)

// receiverStrategy governs writes to the main resource: users own the spec, the status is kept.
type receiverStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

// NewStrategy returns the strategy of the main resource.
func NewStrategy(typer runtime.ObjectTyper) receiverStrategy {
	return receiverStrategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator}
}

func (receiverStrategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the user's to set here.
func (receiverStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (receiverStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	r := obj.(*gitops.Receiver)
	r.Status = gitops.ReceiverStatus{}
	r.Generation = 1
}

func (receiverStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	r, prev := obj.(*gitops.Receiver), old.(*gitops.Receiver)
	r.Status = prev.Status
	r.Generation = prev.Generation
	if !apiequality.Semantic.DeepEqual(r.Spec, prev.Spec) {
		r.Generation = prev.Generation + 1
	}
}

func (receiverStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateReceiver(obj.(*gitops.Receiver))
}

func (receiverStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (receiverStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (receiverStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (receiverStrategy) Canonicalize(runtime.Object) {}

func (receiverStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateReceiverUpdate(obj.(*gitops.Receiver), old.(*gitops.Receiver))
}

func (receiverStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// statusStrategy governs writes through receivers/status: the controller owns the status, spec
// and labels are kept.
type statusStrategy struct {
	receiverStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(v1alpha1.SchemeGroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
		),
	}
}

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	r, prev := obj.(*gitops.Receiver), old.(*gitops.Receiver)
	r.Spec = prev.Spec
	r.Labels = prev.Labels
	r.Generation = prev.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateReceiverStatusUpdate(obj.(*gitops.Receiver), old.(*gitops.Receiver))
}

// GetAttrs returns the labels and the selectable fields of a Receiver.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	r, ok := obj.(*gitops.Receiver)
	if !ok {
		return nil, nil, fmt.Errorf("given object is not a Receiver: %T", obj)
	}
	return labels.Set(r.Labels), generic.ObjectMetaFieldsSet(&r.ObjectMeta, true), nil
}

// Match is the filter used by list and watch.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
