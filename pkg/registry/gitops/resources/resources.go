// Package resources builds the storage of every resource of gitops.ferry.dev/v1alpha1, with its
// subresources, as k8s.io/apiserver installs it: one place that lists what the API group serves,
// so that pkg/apiserver stays wiring.
package resources

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/alert"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/alertprovider"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/applicationpreview"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/applicationset"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/cluster"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/receiver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/syncwindow"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// Options are what the resources validate with, authorize writes with and read through.
type Options struct {
	// Authorizer checks the write-time rights each reference needs (a Secret, a ServiceAccount,
	// a Cluster, another Application).
	Authorizer authorizer.Authorizer
	// Validation holds the server settings validation depends on.
	Validation validation.Options
	// Tenancy says which ServiceAccount each Application acts as.
	Tenancy tenancy.Policy
	// ClusterCredentialsNamespace is where Clusters' credentials Secrets live.
	ClusterCredentialsNamespace string
	// Notifications is the address policy AlertProviders are checked against.
	Notifications *egress.Policy
	// Reads serve /diff, /manifests, /health and ApplicationPreviews and check selective syncs; nil without a target
	// cluster, when those reads answer 503.
	Reads *application.EngineReader
}

// New builds the storage of every resource and subresource, keyed as the API group's storage
// map wants them ("applications", "applications/sync", ...).
func New(scheme *runtime.Scheme, getter generic.RESTOptionsGetter, o Options) (map[string]rest.Storage, error) {
	windows, err := syncwindow.NewStorage(scheme, getter)
	if err != nil {
		return nil, err
	}
	appOpts := application.Options{
		Validation: o.Validation,
		References: &application.ReferenceAuthorizer{Authorizer: o.Authorizer, Tenancy: o.Tenancy},
		Windows:    &application.WindowGate{Authorizer: o.Authorizer, Windows: windows.ListIn},
	}
	var manifests application.ManifestsRenderer
	var differ application.Differ
	var previewer application.Previewer
	if r := o.Reads; r != nil {
		appOpts.Health, appOpts.CheckSyncResources, manifests, differ = r.Health, r.CheckSyncResources, r.Manifests, r.Diff
		previewer = r.Preview
	}
	apps, err := application.NewStorage(scheme, getter, appOpts)
	if err != nil {
		return nil, err
	}
	clusters, err := cluster.NewStorage(scheme, getter, cluster.Options{Authorizer: o.Authorizer, CredentialsNamespace: o.ClusterCredentialsNamespace})
	if err != nil {
		return nil, err
	}
	sets, err := applicationset.NewStorage(scheme, getter, applicationset.Options{
		Validation: o.Validation, Templates: applicationset.CheckTemplates, Authorizer: o.Authorizer, Tenancy: o.Tenancy,
	})
	if err != nil {
		return nil, err
	}
	providers, err := alertprovider.NewStorage(scheme, getter, alertprovider.Options{Authorizer: o.Authorizer, Addresses: o.Notifications})
	if err != nil {
		return nil, err
	}
	alerts, err := alert.NewStorage(scheme, getter, alert.Options{Authorizer: o.Authorizer})
	if err != nil {
		return nil, err
	}
	receivers, err := receiver.NewStorage(scheme, getter, receiver.Options{Authorizer: o.Authorizer})
	if err != nil {
		return nil, err
	}
	return map[string]rest.Storage{
		"applications":           apps.Application,
		"applications/status":    apps.Status,
		"applications/sync":      apps.Sync,
		"applications/rollback":  apps.Rollback,
		"applications/refresh":   apps.Refresh,
		"applications/health":    apps.Health,
		"applications/manifests": application.NewManifestsREST(apps.Application.Store, manifests, o.Authorizer),
		"applications/diff":      application.NewDiffREST(apps.Application.Store, differ, o.Authorizer),
		"applicationpreviews": applicationpreview.NewREST(applicationpreview.Options{
			Applications: apps.Application.Store, Authorizer: o.Authorizer, Tenancy: o.Tenancy, Validation: o.Validation, Preview: previewer,
		}),
		"applicationsets":        sets.ApplicationSet,
		"applicationsets/status": sets.Status,
		"clusters":               clusters.Cluster,
		"clusters/status":        clusters.Status,
		"alertproviders":         providers.AlertProvider,
		"alertproviders/status":  providers.Status,
		"alerts":                 alerts.Alert,
		"alerts/status":          alerts.Status,
		"receivers":              receivers.Receiver,
		"receivers/status":       receivers.Status,
		"syncwindows":            windows,
	}, nil
}
