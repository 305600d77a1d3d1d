// Package access asks the server's delegated authorizer whether the user writing an object may
// use what the object names: the write-time checks of Ferry's references.
package access

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Refused asks authz whether u may verb the resource (of group) namespace/name. why is the
// authorizer's reason, formatted " (reason)", or empty; an error means the question could not
// be answered.
func Refused(ctx context.Context, authz authorizer.Authorizer, u user.Info, group, verb, resource, namespace, name string) (refused bool, why string, err error) {
	return ask(ctx, authz, authorizer.AttributesRecord{
		User: u, Verb: verb, APIGroup: group, Resource: resource, Namespace: namespace, Name: name, ResourceRequest: true,
	}, fmt.Sprintf("%s %s/%s", resource, namespace, name))
}

// ask puts one question to authz: refused, the reason formatted " (reason)", or an error naming
// what was asked about.
func ask(ctx context.Context, authz authorizer.Authorizer, attrs authorizer.AttributesRecord, what string) (refused bool, why string, err error) {
	decision, reason, err := authz.Authorize(ctx, attrs)
	switch {
	case decision == authorizer.DecisionAllow:
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("checking whether %q may %s %s: %w", attrs.User.GetName(), attrs.Verb, what, err)
	case reason != "":
		return true, " (" + reason + ")", nil
	}
	return true, "", nil
}

// Check authorizes what obj names for the user writing it; old is nil on create.
type Check func(ctx context.Context, obj, old runtime.Object) error

// OnCreate runs check before next, the create validation the request brought.
func OnCreate(check Check, next rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	return func(ctx context.Context, obj runtime.Object) error {
		if err := check(ctx, obj, nil); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(ctx, obj)
	}
}

// OnUpdate runs check before next, the update validation the request brought.
func OnUpdate(check Check, next rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	return func(ctx context.Context, obj, old runtime.Object) error {
		if err := check(ctx, obj, old); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(ctx, obj, old)
	}
}
