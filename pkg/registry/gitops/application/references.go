package application

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// ReferenceAuthorizer checks, when an Application is created or its spec changes, that the
// requesting user may use what it names, as RBAC's escalation check does for RoleBindings:
// impersonate the ServiceAccount the Application acts as (named or defaulted), and get the Secret
// its credentialsRef names. Otherwise anyone allowed to write Applications would act with the
// ServiceAccount's power, or send the Secret's password to a repository URL of their choosing.
// A refusal is a 403 naming the field, and nothing is stored; ?dryRun=All answers the same.
type ReferenceAuthorizer struct {
	// Authorizer answers SubjectAccessReviews (the server's delegated authorizer).
	Authorizer authorizer.Authorizer
	// Tenancy says which ServiceAccount an Application acts as.
	Tenancy tenancy.Policy
}

// onCreate wraps a create validation with the reference checks.
func (r *ReferenceAuthorizer) onCreate(next rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	if r == nil || r.Authorizer == nil {
		return next
	}
	return func(ctx context.Context, obj runtime.Object) error {
		if err := r.check(ctx, obj.(*gitops.Application), nil); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(ctx, obj)
	}
}

// onUpdate wraps an update validation with the reference checks.
func (r *ReferenceAuthorizer) onUpdate(next rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	if r == nil || r.Authorizer == nil {
		return next
	}
	return func(ctx context.Context, obj, old runtime.Object) error {
		if err := r.check(ctx, obj.(*gitops.Application), old.(*gitops.Application)); err != nil {
			return err
		}
		if next == nil {
			return nil
		}
		return next(ctx, obj, old)
	}
}

// check authorizes app's references for the requesting user; old is nil on create. On update,
// any change of the spec is checked against the ServiceAccount, since whoever changes what an
// Application deploys deploys it with that ServiceAccount's power; the Secret is checked when
// the reference or the repository it is sent to changes.
func (r *ReferenceAuthorizer) check(ctx context.Context, app, old *gitops.Application) error {
	if old != nil && apiequality.Semantic.DeepEqual(app.Spec, old.Spec) {
		return nil
	}
	user, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gitops.Resource("applications"), app.Name, fmt.Errorf("no user in the request"))
	}
	var errs field.ErrorList
	if sa := r.Tenancy.ServiceAccount(app.Namespace, app.Spec.ServiceAccountName); sa != "" {
		path := field.NewPath("spec", "serviceAccountName")
		defaulted := ""
		if app.Spec.ServiceAccountName == "" {
			defaulted = fmt.Sprintf(" (an Application that names none acts as %q of its namespace)", sa)
		}
		if refused, why, err := r.refused(ctx, user, "impersonate", "serviceaccounts", app.Namespace, sa); refused {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("user %q may not impersonate serviceaccount %s/%s%s%s; "+
				"the built-in edit and admin roles allow it, or a Role with verb impersonate on serviceaccounts", user.GetName(), app.Namespace, sa, defaulted, why)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	if ref := app.Spec.Source.CredentialsRef; ref != nil && credentialsNewlySent(app, old) {
		if refused, why, err := r.refused(ctx, user, "get", "secrets", app.Namespace, ref.Name); refused {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "source", "credentialsRef", "name"),
				fmt.Sprintf("user %q may not get secret %s/%s%s, whose credentials Ferry would send to %s", user.GetName(), app.Namespace, ref.Name, why, app.Spec.Source.RepoURL)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(gitops.Resource("applications"), app.Name, errs.ToAggregate())
	}
	return nil
}

// credentialsNewlySent: on create, or when the Secret or the repository it is sent to changes.
func credentialsNewlySent(app, old *gitops.Application) bool {
	if old == nil || old.Spec.Source.CredentialsRef == nil {
		return true
	}
	return old.Spec.Source.CredentialsRef.Name != app.Spec.Source.CredentialsRef.Name || old.Spec.Source.RepoURL != app.Spec.Source.RepoURL
}

// refused asks the authorizer whether user may verb the core resource namespace/name. why is
// the authorizer's reason, formatted " (reason)", or empty; an error means the question could
// not be answered.
func (r *ReferenceAuthorizer) refused(ctx context.Context, u user.Info, verb, resource, namespace, name string) (refused bool, why string, err error) {
	decision, reason, err := r.Authorizer.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: verb, Resource: resource, Namespace: namespace, Name: name, ResourceRequest: true,
	})
	switch {
	case decision == authorizer.DecisionAllow:
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("checking whether %q may %s %s %s/%s: %w", u.GetName(), verb, resource, namespace, name, err)
	case reason != "":
		return true, " (" + reason + ")", nil
	}
	return true, "", nil
}
