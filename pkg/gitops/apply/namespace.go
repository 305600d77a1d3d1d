package apply

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EnsureNamespace creates a namespace as username when it does not exist. It is not tracked:
// deleting the Application never deletes a namespace it merely asked for.
func (a *Applier) EnsureNamespace(ctx context.Context, username, name string) error {
	ic, err := a.forIdentity(username)
	if err != nil {
		return err
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	if err := ic.client.Get(ctx, client.ObjectKey{Name: name}, ns); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns.SetName(name)
	if err := ic.client.Create(ctx, ns, client.FieldOwner(FieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s (spec.syncPolicy.createNamespace): %w", name, err)
	}
	return nil
}
