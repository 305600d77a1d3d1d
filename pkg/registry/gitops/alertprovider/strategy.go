// Package alertprovider holds the storage of AlertProviders: the strategies that decide what a
// write and a status write may change, the write-time checks of the address (the notification
// address policy) and of the Secret a provider names, and the table kubectl prints.
package alertprovider

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/notify"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/strategy"
)

// providerStrategy governs writes to the main resource: users own the spec, the status is kept.
type providerStrategy struct {
	strategy.Defaults
	runtime.ObjectTyper
	names.NameGenerator
	// addresses is the notification address policy spec.address is checked against.
	addresses *egress.Policy
}

func (providerStrategy) NamespaceScoped() bool { return true }

// GetResetFields tells server-side apply that status is not the user's to set here.
func (providerStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return strategy.StatusReset()
}

func (providerStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	p := obj.(*gitops.AlertProvider)
	p.Status = gitops.AlertProviderStatus{}
	p.Generation = 1
}

func (providerStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*gitops.AlertProvider), old.(*gitops.AlertProvider)
	p.Status = prev.Status
	strategy.NextGeneration(p, prev, p.Spec, prev.Spec)
}

func (s providerStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	p := obj.(*gitops.AlertProvider)
	return append(validation.ValidateAlertProvider(p), s.checkAddress(p)...)
}

func (s providerStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	p := obj.(*gitops.AlertProvider)
	return append(validation.ValidateAlertProviderUpdate(p, old.(*gitops.AlertProvider)), s.checkAddress(p)...)
}

// checkAddress refuses an address the notification address policy denies (loopback,
// link-local, metadata), naming spec.address. The address a Secret holds instead is checked
// when it is read, at each send.
func (s providerStrategy) checkAddress(p *gitops.AlertProvider) field.ErrorList {
	if p.Spec.Address == "" {
		return nil
	}
	if err := notify.CheckAddress(p.Spec.Address, s.addresses); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "address"), p.Spec.Address, err.Error())}
	}
	return nil
}

// statusStrategy governs writes through alertproviders/status: the controller owns the status,
// spec and labels are kept.
type statusStrategy struct {
	providerStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return strategy.SpecReset()
}

func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, prev := obj.(*gitops.AlertProvider), old.(*gitops.AlertProvider)
	p.Spec = prev.Spec
	p.Labels = prev.Labels
	p.Generation = prev.Generation
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateAlertProviderStatusUpdate(obj.(*gitops.AlertProvider), old.(*gitops.AlertProvider))
}

// GetAttrs returns the labels and the selectable fields (its metadata's) of an object.
var GetAttrs = strategy.GetAttrs

// Match is the filter used by list and watch.
var Match = strategy.Match
