package application

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// RollbackREST serves POST applications/{name}/rollback. Like /sync it records intent: a sync
// operation to the revision an earlier successful sync applied (of every source, a chart's version
// included), and status.rollback, which holds the Application there while Git still names the
// revision rolled away from. Its own verb, "create applications/rollback", lets a team allow
// undoing a deploy to people who may not sync to any revision they like.
type RollbackREST struct {
	store   *genericregistry.Store
	windows *WindowGate
}

var (
	_ rest.NamedCreater         = &RollbackREST{}
	_ rest.SingularNameProvider = &RollbackREST{}
)

// New returns an empty rollback request.
func (r *RollbackREST) New() runtime.Object { return &gitops.ApplicationRollback{} }

// Destroy does nothing: the store is shared with the main resource, which closes it.
func (r *RollbackREST) Destroy() {}

// GetSingularName is the singular of the request kind.
func (r *RollbackREST) GetSingularName() string { return "applicationrollback" }

// Create records a rollback of the Application named in the URL.
func (r *RollbackREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*gitops.ApplicationRollback)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected an ApplicationRollback, got %T", obj))
	}
	if req.Name != "" && req.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("metadata.name %q of the ApplicationRollback does not match the Application %q in the URL", req.Name, name))
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	requester, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("the rollback request carries no authenticated user")
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	if err := r.windows.authorizeOverride(ctx, requester, namespace, name, req.Spec.OverrideSyncWindows); err != nil {
		return nil, err
	}
	now := metav1.Now()
	op := &gitops.Operation{
		ID:          string(uuid.NewUUID()),
		Phase:       gitops.OperationPending,
		Prune:       req.Spec.Prune,
		RequestedBy: gitops.RequestedBy{Username: requester.GetName(), UID: requester.GetUID(), Groups: requester.GetGroups()},
		RequestedAt: now,
	}

	// Chosen from the stored history inside etcd's optimistic-concurrency loop, so the entry, the
	// check for an active operation and the write agree.
	recordRollback := func(ctx context.Context, _, oldObj runtime.Object) (runtime.Object, error) {
		app := oldObj.(*gitops.Application).DeepCopy()
		if err := operationConflict(app); err != nil {
			return nil, err
		}
		if err := r.windows.refuse(ctx, app, req.Spec.OverrideSyncWindows, "rollback"); err != nil {
			return nil, err
		}
		entry, err := rollbackTarget(app, req.Spec.ID)
		if err != nil {
			return nil, err
		}
		from := app.Status.SourceRevision
		if from == "" {
			from = app.Status.Sync.Revision
		}
		op.Revision = entry.SyncedRevision
		app.Status.Operation = op
		app.Status.Rollback = &gitops.RollbackStatus{
			ID: entry.ID, Revision: entry.SyncedRevision, From: from,
			RequestedBy: requester.GetName(), RequestedAt: now,
		}
		return app, nil
	}
	updated, _, err := r.store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, recordRollback),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager})
	if err != nil {
		return nil, err
	}
	app := updated.(*gitops.Application)
	return &gitops.ApplicationRollback{
		ObjectMeta: metav1.ObjectMeta{Name: app.Name, Namespace: app.Namespace, UID: app.UID, CreationTimestamp: now},
		Spec:       req.Spec,
		Status: gitops.ApplicationRollbackStatus{
			OperationID:                op.ID,
			Phase:                      op.Phase,
			Revision:                   op.Revision,
			ApplicationResourceVersion: app.ResourceVersion,
		},
	}, nil
}

// rollbackTarget is the history entry a rollback goes to: the one id names, or, without one, the
// newest successful sync (not a dry run) at another revision than the one synced now. Only a
// successful sync that applied a revision can be gone back to: anything else would deploy what
// nobody saw work.
func rollbackTarget(app *gitops.Application, id string) (*gitops.OperationRecord, error) {
	usable := func(e *gitops.OperationRecord) bool {
		return e.Phase == gitops.OperationSucceeded && !e.DryRun && e.SyncedRevision != ""
	}
	path := field.NewPath("spec", "id")
	current := app.Status.Sync.Revision
	if id == "" {
		for i := range app.Status.History {
			if e := &app.Status.History[i]; usable(e) && e.SyncedRevision != current {
				return e, nil
			}
		}
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationRollback"), app.Name, field.ErrorList{field.Required(path,
			"status.history holds no successful sync at another revision than the one synced now ("+v1alpha1.ShortRevision(current)+"): name an entry of kubectl ferry history, or sync to a revision")})
	}
	e, err := historyEntry(app, id)
	if err != nil {
		return nil, err
	}
	switch {
	case !usable(e):
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationRollback"), app.Name, field.ErrorList{field.Invalid(path, id,
			fmt.Sprintf("operation %s was a %s%s: only a successful sync that applied a revision can be rolled back to", e.ID, e.Phase, dryRunNote(e.DryRun)))})
	case e.SyncedRevision == current:
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationRollback"), app.Name, field.ErrorList{field.Invalid(path, id,
			"the Application is synced at that revision ("+v1alpha1.ShortRevision(current)+") now")})
	}
	return e, nil
}

// historyEntry is the entry of status.history whose id is id, or starts with it: kubectl ferry
// history shows the first 8 characters.
func historyEntry(app *gitops.Application, id string) (*gitops.OperationRecord, error) {
	path := field.NewPath("spec", "id")
	var found *gitops.OperationRecord
	for i := range app.Status.History {
		e := &app.Status.History[i]
		switch {
		case e.ID == id:
			return e, nil
		case strings.HasPrefix(e.ID, id) && found != nil:
			return nil, apierrors.NewInvalid(gitops.Kind("ApplicationRollback"), app.Name, field.ErrorList{field.Invalid(path, id,
				fmt.Sprintf("names more than one entry of status.history (%s, %s): give more of the id", found.ID, e.ID))})
		case strings.HasPrefix(e.ID, id):
			found = e
		}
	}
	if found == nil {
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationRollback"), app.Name, field.ErrorList{field.NotFound(path, id)})
	}
	return found, nil
}

func dryRunNote(dryRun bool) string {
	if dryRun {
		return " dry run"
	}
	return " sync"
}
