package access

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Guarded is a registry store whose creates and updates are authorised first: Check sees what
// the writer asks to store, and on update what was stored, before any other validation runs and
// before anything is written. The kinds that name a Secret, a Cluster, a ServiceAccount or
// another object use it, so that no write can reference what its writer may not use.
type Guarded struct {
	*genericregistry.Store
	Check Check
}

// Create stores a new object once Check allows it.
func (g *Guarded) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return g.Store.Create(ctx, obj, OnCreate(g.Check, createValidation), options)
}

// Update changes an object once Check allows it (a create through update is checked as a
// create).
func (g *Guarded) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return g.Store.Update(ctx, name, objInfo, OnCreate(g.Check, createValidation), OnUpdate(g.Check, updateValidation), forceAllowCreate, options)
}

// Typed is a Check of one kind: obj and old as that kind, old nil on create.
func Typed[T runtime.Object](check func(ctx context.Context, obj, old T) error) Check {
	return func(ctx context.Context, obj, old runtime.Object) error {
		var prev T
		if old != nil {
			prev = old.(T)
		}
		return check(ctx, obj.(T), prev)
	}
}
