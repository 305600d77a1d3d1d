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

// DeleteHook deletes a hook object as username, its Pods with it, and with wait polls until it
// is gone or timeout passes. An object that does not exist is no error.
func (a *Applier) DeleteHook(ctx context.Context, username string, ref ObjectRef, waitGone bool, timeout time.Duration) error {
	ic, err := a.forIdentity(username)
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
	obj.SetNamespace(ref.Namespace)
	obj.SetName(ref.Name)
	err = ic.client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground))
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
