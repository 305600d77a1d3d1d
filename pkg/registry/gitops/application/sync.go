package application

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
)

// SyncREST serves POST applications/{name}/sync. It records the requested operation in the
// Application's status.operation, with the requester taken from the authenticated request; the
// controller picks it up from there. Recording intent instead of acting in the handler keeps the
// request short and the operation visible, resumable and auditable.
type SyncREST struct {
	store          *genericregistry.Store
	checkResources SyncResourcesChecker
	windows        *WindowGate
}

// SyncResourcesChecker checks, before a selective sync is recorded, that each of its
// spec.resources names an object the Application renders at the revision: nil, or an API error
// (422 naming spec.resources[i]; 503 or 504 when Git cannot be read).
type SyncResourcesChecker func(ctx context.Context, app *gitops.Application, revision string, resources []gitops.SyncResource) error

var (
	_ rest.NamedCreater         = &SyncREST{}
	_ rest.SingularNameProvider = &SyncREST{}
)

// New returns an empty sync request.
func (r *SyncREST) New() runtime.Object { return &gitops.ApplicationSync{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *SyncREST) Destroy() {}

// GetSingularName is the singular of the request kind.
func (r *SyncREST) GetSingularName() string { return "applicationsync" }

// Create records a sync operation for the Application named in the URL.
func (r *SyncREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*gitops.ApplicationSync)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected an ApplicationSync, got %T", obj))
	}
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("metadata.name %q of the ApplicationSync does not match the Application %q in the URL", req.Name, name))
	}
	// The stored Application says how many revisions the request names (one per source), and
	// which objects it may select.
	var current *gitops.Application
	sources := 1
	if strings.Contains(req.Spec.Revision, " ") || (len(req.Spec.Resources) > 0 && r.checkResources != nil) {
		obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		current = obj.(*gitops.Application)
		sources = max(1, len(current.Spec.Sources))
	}
	if errs := validation.ValidateApplicationSync(req, sources); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationSync"), name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	if len(req.Spec.Resources) > 0 && r.checkResources != nil {
		if err := r.checkResources(ctx, current, req.Spec.Revision, req.Spec.Resources); err != nil {
			return nil, err
		}
	}
	requester, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("the sync request carries no authenticated user")
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	if err := r.windows.authorizeOverride(ctx, requester, namespace, name, req.Spec.OverrideSyncWindows); err != nil {
		return nil, err
	}

	op := &gitops.Operation{
		ID:          string(uuid.NewUUID()),
		Phase:       gitops.OperationPending,
		Revision:    req.Spec.Revision,
		Prune:       req.Spec.Prune,
		DryRun:      req.Spec.DryRun,
		Resources:   req.Spec.Resources,
		RequestedBy: gitops.RequestedBy{Username: requester.GetName(), UID: requester.GetUID(), Groups: requester.GetGroups()},
		RequestedAt: metav1.Now(),
	}

	// Built from the stored object inside etcd's optimistic-concurrency loop, so the check for an
	// active operation and the write are atomic.
	recordOperation := func(ctx context.Context, _, oldObj runtime.Object) (runtime.Object, error) {
		app := oldObj.(*gitops.Application).DeepCopy()
		if err := operationConflict(app); err != nil {
			return nil, err
		}
		// A dry run changes nothing in the cluster: no window keeps it out.
		if !req.Spec.DryRun {
			if err := r.windows.refuse(ctx, app, req.Spec.OverrideSyncWindows, "sync"); err != nil {
				return nil, err
			}
		}
		app.Status.Operation = op
		// A sync requested by hand ends a rollback's hold: the person chose what runs now.
		app.Status.Rollback = nil
		return app, nil
	}

	updated, _, err := r.store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, recordOperation),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager})
	if err != nil {
		return nil, err
	}
	app := updated.(*gitops.Application)

	resp := &gitops.ApplicationSync{
		ObjectMeta: metav1.ObjectMeta{
			Name:              app.Name,
			Namespace:         app.Namespace,
			UID:               app.UID,
			CreationTimestamp: op.RequestedAt,
		},
		Spec: req.Spec,
		Status: gitops.ApplicationSyncStatus{
			OperationID:                op.ID,
			Phase:                      op.Phase,
			ApplicationResourceVersion: app.ResourceVersion,
		},
	}
	return resp, nil
}

// operationConflict is the 409 for an Application that cannot take a new operation now: being
// deleted, suspended, or running one already.
func operationConflict(app *gitops.Application) error {
	conflict := func(err error) error { return apierrors.NewConflict(gitops.Resource("applications"), app.Name, err) }
	if app.DeletionTimestamp != nil {
		return conflict(fmt.Errorf("the Application is being deleted"))
	}
	if app.Spec.Suspend {
		return conflict(fmt.Errorf("the Application is suspended: set spec.suspend to false first"))
	}
	if cur := app.Status.Operation; cur != nil && (cur.Phase == gitops.OperationPending || cur.Phase == gitops.OperationRunning) {
		return conflict(fmt.Errorf("operation %s requested by %s is %s; wait for it to finish", cur.ID, cur.RequestedBy.Username, cur.Phase))
	}
	return nil
}
