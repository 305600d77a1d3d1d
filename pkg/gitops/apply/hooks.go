package apply

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
)

// CreateHook creates a hook object as username (a hook is created anew for each run, never
// applied: it may use metadata.generateName) and returns it as the server stored it.
func (a *Applier) CreateHook(ctx context.Context, username string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ic, err := a.forIdentity(username)
	if err != nil {
		return nil, err
	}
	created := obj.DeepCopy()
	if err := ic.client.Create(ctx, created, client.FieldOwner(FieldManager)); err != nil {
		return nil, fmt.Errorf("%s: creating the hook: %w", RefOf(obj), err)
	}
	return created, nil
}

// DeleteHook deletes a hook object app ran, as username, its Pods with it, and with wait polls
// until it is gone or timeout passes. An object that does not exist is no error. An object of
// the hook's kind and name that is not a hook app ran (another Application's object or hook, or
// something nobody deployed) is not deleted: the error names it and its owner (HookOwnerError).
func (a *Applier) DeleteHook(ctx context.Context, username string, app App, ref ObjectRef, waitGone bool, timeout time.Duration) error {
	ic, err := a.forIdentity(username)
	if err != nil {
		return err
	}
	live, err := a.Live(ctx, username, ref)
	if err != nil {
		return fmt.Errorf("%s: reading the hook's previous run: %w", ref, err)
	}
	if live == nil {
		return nil
	}
	if owner, ok := hookOwner(app, live); !ok {
		return &HookOwnerError{Ref: ref, Owner: owner}
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	// Exactly the object judged above: one made under the same name in between is not deleted.
	uid := live.GetUID()
	err = ic.client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground), client.Preconditions{UID: &uid})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: deleting the hook's previous run: %w", ref, err)
	}
	if !waitGone {
		return nil
	}
	err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		live, err := a.Live(ctx, username, ref)
		return live == nil, err
	})
	if err != nil && ctx.Err() == nil && wait.Interrupted(err) {
		return fmt.Errorf("%s: the hook's previous run is still being deleted after %s (a finalizer holds it?)", ref, timeout)
	}
	return err
}

// HookOwnerError is an object in the way of a hook that the hook's Application did not make as
// a hook: left alone, and the hook not run.
type HookOwnerError struct {
	Ref ObjectRef
	// Owner says whose the object is: "Application <ns>/<name>", "a hook of Application
	// <ns>/<name>", or that no Application made it.
	Owner string
}

func (e *HookOwnerError) Error() string {
	return fmt.Sprintf("%s exists and is not a hook this Application ran (%s): it is not deleted to run the hook; rename the hook or remove the object", e.Ref, e.Owner)
}

// hookOwner says whether live is a hook that app ran: Ferry's hook-of annotation names app, it
// is a hook, and no Application keeps it applied (tracking annotation). Otherwise it says whose
// the object is.
func hookOwner(app App, live *unstructured.Unstructured) (string, bool) {
	ann := live.GetAnnotations()
	if tracking := ann[TrackingAnnotation]; tracking != "" {
		return "it is managed by Application " + OwnerApp(tracking), false
	}
	of := ann[hooks.OfAnnotation]
	switch {
	case of == "":
		return "no Application made it", false
	case of != app.Key():
		return "it is a hook of Application " + of, false
	case !hooks.IsHook(live):
		return "it carries no hook annotation", false
	}
	return "", true
}
