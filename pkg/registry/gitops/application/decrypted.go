package application

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
)

// A render of an Application that decrypts SOPS files (spec.decryption) is Secrets-level data:
// Secret values are masked in what /manifests and /diff show, and the render is refused when a
// decrypted value shows anywhere else, but not every way of writing a value down can be seen
// (two halves of it in two fields). And ?revision= renders any branch with the Application's
// keys, so whoever may push a branch could have it decrypt what they choose. Reading such a
// render therefore needs what reading the Secrets it makes needs: get on secrets in the
// Application's namespace, asked of the delegated authorizer at every read, before any work.
// The built-in view role does not grant it; edit and admin do.

// decryptedReadAuthorizer checks reads of renders that decrypt; a nil Authorizer checks nothing
// (tests of the registry alone).
type decryptedReadAuthorizer struct {
	authz authorizer.Authorizer
}

// check refuses the requesting user the render of app, read through the subresource what
// ("manifests", "diff"), when app decrypts and the user may not get secrets in its namespace.
func (r decryptedReadAuthorizer) check(ctx context.Context, app *gitops.Application, what string) error {
	return CheckDecryptedRead(ctx, r.authz, app, gitops.Resource("applications/"+what), app.Name, what)
}

// CheckDecryptedRead is the check of decryptedReadAuthorizer for any request that reads a
// render of app, such as an ApplicationPreview: when app decrypts, the user must be allowed
// get on secrets in its namespace, else a Forbidden of resource and name. what names the read
// in the message; a nil authz checks nothing.
func CheckDecryptedRead(ctx context.Context, authz authorizer.Authorizer, app *gitops.Application, resource schema.GroupResource, name, what string) error {
	if authz == nil || !decrypts(app) {
		return nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(resource, name, fmt.Errorf("no user in the request"))
	}
	refused, why, err := access.Refused(ctx, authz, u, "", "get", "secrets", app.Namespace, "")
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		return apierrors.NewForbidden(resource, name, fmt.Errorf(
			"reading the %s of an Application that decrypts SOPS files (spec.decryption) needs get on secrets in namespace %q, as reading its Secrets does: user %q may not%s",
			what, app.Namespace, u.GetName(), why))
	}
	return nil
}

// decrypts says whether app's renders use decryption keys.
func decrypts(app *gitops.Application) bool {
	return app.Spec.Decryption != nil && app.Spec.Decryption.SecretRef != nil
}
