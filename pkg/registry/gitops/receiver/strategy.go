// Package receiver holds the storage of Receivers: the strategies that decide what a write and a
// status write may change, the write-time checks of what a Receiver names (its Secret, and the
// right to refresh the Applications it selects), and the table kubectl prints.
package receiver

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/strategy"
)

// receiverStrategy governs writes to the main resource: users own the spec, the status is kept.
type receiverStrategy struct {
	strategy.Defaults
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
	return strategy.StatusReset()
}

func (receiverStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	r := obj.(*gitops.Receiver)
	r.Status = gitops.ReceiverStatus{}
	r.Generation = 1
}

func (receiverStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	r, prev := obj.(*gitops.Receiver), old.(*gitops.Receiver)
	r.Status = prev.Status
	strategy.NextGeneration(r, prev, r.Spec, prev.Spec)
}

func (receiverStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateReceiver(obj.(*gitops.Receiver))
}

func (receiverStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateReceiverUpdate(obj.(*gitops.Receiver), old.(*gitops.Receiver))
}

// statusStrategy governs writes through receivers/status: the controller owns the status, spec
// and labels are kept.
type statusStrategy struct {
	receiverStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return strategy.SpecReset()
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

// GetAttrs returns the labels and the selectable fields (its metadata's) of an object.
var GetAttrs = strategy.GetAttrs

// Match is the filter used by list and watch.
var Match = strategy.Match
