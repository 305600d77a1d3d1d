package application

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
)

// HealthReader judges the live health of one object of app in the target cluster, read as the
// identity app acts as: a viewer's /health shows no more than the Application itself may read.
type HealthReader func(ctx context.Context, app *gitops.Application, ref apply.ObjectRef) health.Status

// HealthREST serves GET applications/{name}/health: the health of every managed object read live
// from the cluster at request time, so it shows a change before the controller's next look.
type HealthREST struct {
	store *genericregistry.Store
	read  HealthReader
}

var (
	_ rest.Getter               = &HealthREST{}
	_ rest.SingularNameProvider = &HealthREST{}
)

// NewHealthREST serves health through the Application store; read is nil when the server has
// no target cluster, and requests then fail with 503.
func NewHealthREST(store *genericregistry.Store, read HealthReader) *HealthREST {
	return &HealthREST{store: store, read: read}
}

// New returns an empty ApplicationHealth.
func (r *HealthREST) New() runtime.Object { return &gitops.ApplicationHealth{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *HealthREST) Destroy() {}

// GetSingularName is the singular of the response kind.
func (r *HealthREST) GetSingularName() string { return "applicationhealth" }

// healthConcurrency bounds the reads one request makes at once.
const healthConcurrency = 8

// Get reads the Application (NotFound and namespaces handled by the store) and judges each
// object of its inventory.
func (r *HealthREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	if r.read == nil {
		return nil, apierrors.NewServiceUnavailable("ferry-apiserver has no target cluster to read health from (start it with --kubeconfig, --target-kubeconfig or in a cluster)")
	}
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	app := obj.(*gitops.Application)
	resources := make([]gitops.ResourceHealth, len(app.Status.Resources))
	named := make([]health.Named, len(app.Status.Resources))
	var wg sync.WaitGroup
	sem := make(chan struct{}, healthConcurrency)
	for i, res := range app.Status.Resources {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ref := apply.ObjectRef{Group: res.Group, Version: res.Version, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name}
			st := r.read(ctx, app, ref)
			resources[i] = gitops.ResourceHealth{
				Group: res.Group, Version: res.Version, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name,
				Status: gitops.HealthStatusCode(st.Code), Message: st.Message,
			}
			named[i] = health.Named{Name: res.Kind + "/" + res.Name, Status: st}
		}()
	}
	wg.Wait()
	overall := health.Aggregate(named)
	return &gitops.ApplicationHealth{
		ObjectMeta: responseMeta(app),
		Status:     gitops.HealthStatusCode(overall.Code),
		Message:    overall.Message,
		Resources:  resources,
	}, nil
}

// responseMeta identifies the Application a read subresource answers for, as kube-apiserver's
// scale subresource copies its parent's identity onto the Scale it returns.
func responseMeta(app *gitops.Application) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: app.Name, Namespace: app.Namespace, UID: app.UID,
		ResourceVersion: app.ResourceVersion, CreationTimestamp: app.CreationTimestamp,
	}
}
