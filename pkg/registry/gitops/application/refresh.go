package application

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
)

// RefreshREST serves POST applications/{name}/refresh. It records the request in the
// Application's status.refresh (when, by whom, why); the controller then resolves the revision
// from a listing of the remote that started no earlier than the request, instead of waiting for
// the interval, and records the request handled. Many refreshes while one runs cost one listing:
// the work queue keeps one entry per Application and concurrent listings of a repository are
// joined.
type RefreshREST struct {
	store *genericregistry.Store
	// now is the clock; tests set it.
	now func() time.Time
}

var (
	_ rest.NamedCreater         = &RefreshREST{}
	_ rest.SingularNameProvider = &RefreshREST{}
)

// New returns an empty refresh request.
func (r *RefreshREST) New() runtime.Object { return &gitops.ApplicationRefresh{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *RefreshREST) Destroy() {}

// GetSingularName is the singular of the request kind.
func (r *RefreshREST) GetSingularName() string { return "applicationrefresh" }

// Create records a refresh of the Application named in the URL. A suspended or deleting
// Application refuses it with 409 and records nothing: it does not reconcile, so the refresh
// would wait unseen and then fire long after anyone meant it.
func (r *RefreshREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*gitops.ApplicationRefresh)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected an ApplicationRefresh, got %T", obj))
	}
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("metadata.name %q of the ApplicationRefresh does not match the Application %q in the URL", req.Name, name))
	}
	if errs := validation.ValidateApplicationRefresh(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationRefresh"), name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	requester, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("the refresh request carries no authenticated user")
	}
	clock := r.now
	if clock == nil {
		clock = time.Now
	}
	// Microseconds, the precision the API keeps: a listing that started in the same second but
	// before the request (and so perhaps before the push) must not satisfy it.
	requestedAt := metav1.NewMicroTime(clock().Truncate(time.Microsecond))

	recordRefresh := func(_ context.Context, _, oldObj runtime.Object) (runtime.Object, error) {
		app := oldObj.(*gitops.Application).DeepCopy()
		if app.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(gitops.Resource("applications"), name, fmt.Errorf("the Application is being deleted"))
		}
		if app.Spec.Suspend {
			return nil, apierrors.NewConflict(gitops.Resource("applications"), name, fmt.Errorf("the Application is suspended: nothing was recorded; set spec.suspend to false first"))
		}
		refresh := &gitops.RefreshStatus{RequestedAt: requestedAt, RequestedBy: requester.GetName(), Reason: req.Spec.Reason}
		if prev := app.Status.Refresh; prev != nil {
			refresh.HandledAt = prev.HandledAt
		}
		app.Status.Refresh = refresh
		return app, nil
	}

	updated, _, err := r.store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, recordRefresh),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager})
	if err != nil {
		return nil, err
	}
	app := updated.(*gitops.Application)
	return &gitops.ApplicationRefresh{
		ObjectMeta: metav1.ObjectMeta{
			Name:              app.Name,
			Namespace:         app.Namespace,
			UID:               app.UID,
			CreationTimestamp: metav1.NewTime(requestedAt.Time),
		},
		Spec: req.Spec,
		Status: gitops.ApplicationRefreshStatus{
			RequestedAt:                requestedAt,
			ApplicationResourceVersion: app.ResourceVersion,
		},
	}, nil
}

// refreshStrategy governs the write a refresh request makes: only status.refresh changes.
type refreshStrategy struct {
	applicationStrategy
}

func (refreshStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newApp := obj.(*gitops.Application)
	oldApp := old.(*gitops.Application)
	refresh := newApp.Status.Refresh
	newApp.Spec = oldApp.Spec
	newApp.Status = oldApp.Status
	newApp.Status.Refresh = refresh
	newApp.Labels = oldApp.Labels
	newApp.Annotations = oldApp.Annotations
	newApp.Generation = oldApp.Generation
}
