package application

import (
	"context"
	"fmt"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// ReferenceAuthorizer checks, when an Application is created or its spec changes, that the
// requesting user may use what it names, as RBAC's escalation check does for RoleBindings:
// impersonate the ServiceAccount the Application acts as (named or defaulted), get the Secret
// its credentialsRef and decryption name, and use the Cluster its destination names. Otherwise anyone allowed to write Applications would act with the
// ServiceAccount's power, or send the Secret's password to a repository URL of their choosing.
// A refusal is a 403 naming the field, and nothing is stored; ?dryRun=All answers the same.
type ReferenceAuthorizer struct {
	// Authorizer answers SubjectAccessReviews (the server's delegated authorizer).
	Authorizer authorizer.Authorizer
	// Tenancy says which ServiceAccount an Application acts as.
	Tenancy tenancy.Policy

	// lookup reads a stored Application as the server (NewStorage sets it), to find dependency
	// cycles.
	lookup func(ctx context.Context, namespace, name string) (*gitops.Application, error)
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
		if refused, why, err := r.refused(ctx, user, "", "impersonate", "serviceaccounts", app.Namespace, sa); refused {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("user %q may not impersonate serviceaccount %s/%s%s%s; "+
				"the built-in edit and admin roles allow it, or a Role with verb impersonate on serviceaccounts", user.GetName(), app.Namespace, sa, defaulted, why)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	for _, src := range sourcesOf(&app.Spec) {
		ref := src.CredentialsRef
		if ref == nil {
			continue
		}
		changed, where := credentialsNewlySent(src, old)
		if changed == nil {
			continue
		}
		if refused, why, err := r.refused(ctx, user, "", "get", "secrets", app.Namespace, ref.Name); refused {
			errs = append(errs, field.Forbidden(changed,
				fmt.Sprintf("user %q may not get secret %s/%s%s, whose credentials Ferry would send to %s", user.GetName(), app.Namespace, ref.Name, why, where)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	// The decryption keys turn what the source holds into Secrets where the destination says:
	// whoever changes either must be allowed to read the keys themselves.
	if d := app.Spec.Decryption; d != nil && d.SecretRef != nil && decryptionNewlyUsed(app, old) {
		if refused, why, err := r.refused(ctx, user, "", "get", "secrets", app.Namespace, d.SecretRef.Name); refused {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "decryption", "secretRef", "name"),
				fmt.Sprintf("user %q may not get secret %s/%s%s, whose keys would decrypt what %s holds", user.GetName(), app.Namespace, d.SecretRef.Name, why, gitops.PrimarySource(&app.Spec).RepoURL)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	// Deploying to another cluster uses Ferry's credentials there: the writer must be allowed
	// to use the Cluster, on every change of what is deployed, like the ServiceAccount.
	if c := app.Spec.Destination.Cluster; c != "" {
		if refused, why, err := r.refused(ctx, user, gitops.GroupName, "use", "clusters", "", c); refused {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "destination", "cluster"),
				fmt.Sprintf("user %q may not use cluster %q%s; a ClusterRole with verb use on clusters.gitops.ferry.dev (resourceNames: [%s]) allows it", user.GetName(), c, why, c)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	// Depending on an Application of another namespace reveals whether it is Synced and
	// Healthy: the writer must be allowed to get it.
	for i, dep := range app.Spec.DependsOn {
		if dep.Namespace == "" || dep.Namespace == app.Namespace || dependedOnBefore(old, dep) {
			continue
		}
		if refused, why, err := r.refused(ctx, user, gitops.GroupName, "get", "applications", dep.Namespace, dep.Name); refused {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "dependsOn").Index(i),
				fmt.Sprintf("user %q may not get application %s/%s%s", user.GetName(), dep.Namespace, dep.Name, why)))
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(gitops.Resource("applications"), app.Name, errs.ToAggregate())
	}
	return r.checkCycle(ctx, app)
}

// dependedOnBefore: old already named dep, so its writer was allowed it then.
func dependedOnBefore(old *gitops.Application, dep gitops.ApplicationReference) bool {
	if old == nil {
		return false
	}
	for _, d := range old.Spec.DependsOn {
		if d == dep {
			return true
		}
	}
	return false
}

// maxDependencyWalk bounds the Applications read to find a cycle.
const maxDependencyWalk = 256

// checkCycle refuses an Application whose dependencies, followed through the stored
// Applications, lead back to it. Applications not stored yet are no cycle now; should one close
// a cycle later, the controller reports it.
func (r *ReferenceAuthorizer) checkCycle(ctx context.Context, app *gitops.Application) error {
	if r.lookup == nil || len(app.Spec.DependsOn) == 0 {
		return nil
	}
	self := types.NamespacedName{Namespace: app.Namespace, Name: app.Name}.String()
	// Each node remembers which of app's own dependencies it was reached through: the refusal
	// names that one only, never the Applications of other namespaces on the way.
	type node struct {
		key   string
		first int
	}
	var queue []node
	for i, d := range app.Spec.DependsOn {
		queue = append(queue, node{key: d.Key(app.Namespace), first: i})
	}
	seen := map[string]bool{}
	for len(queue) > 0 && len(seen) < maxDependencyWalk {
		n := queue[0]
		queue = queue[1:]
		if n.key == self {
			d := app.Spec.DependsOn[n.first]
			return apierrors.NewInvalid(gitops.Kind("Application"), app.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "dependsOn").Index(n.first), d.Name,
					"its dependencies lead back to this Application: a cycle, in which none could ever sync"),
			})
		}
		if seen[n.key] {
			continue
		}
		seen[n.key] = true
		ns, name, _ := strings.Cut(n.key, "/")
		dep, err := r.lookup(ctx, ns, name)
		if err != nil {
			continue // not stored (yet): no cycle through it now
		}
		for _, d := range dep.Spec.DependsOn {
			queue = append(queue, node{key: d.Key(dep.Namespace), first: n.first})
		}
	}
	return nil
}

// sourceAt is a source of an Application with the path of its field.
type sourceAt struct {
	*gitops.ApplicationSource
	path *field.Path
}

// sourcesOf lists spec.source, or each source of spec.sources.
func sourcesOf(spec *gitops.ApplicationSpec) []sourceAt {
	if len(spec.Sources) == 0 {
		return []sourceAt{{&spec.Source, field.NewPath("spec", "source")}}
	}
	out := make([]sourceAt, len(spec.Sources))
	for i := range spec.Sources {
		out[i] = sourceAt{&spec.Sources[i], field.NewPath("spec", "sources").Index(i)}
	}
	return out
}

// credentialsNewlySent says which field of src sends its credentials Secret somewhere the stored
// Application old did not, and where: on create, the Secret itself; then a repository, a chart
// or, with helm.passCredentials turned on, every host a chart or dependency comes from. It
// returns nil when a source of old already sent the same Secret to the same place.
func credentialsNewlySent(src sourceAt, old *gitops.Application) (*field.Path, string) {
	where := src.RepoURL
	if src.Chart != "" {
		where += " (chart " + src.Chart + ")"
	}
	if passesCredentials(src.ApplicationSource) {
		where += " and to every host its charts come from (helm.passCredentials)"
	}
	if old == nil {
		return src.path.Child("credentialsRef", "name"), where
	}
	// The field that differs from the closest source of old: the Secret and repository, then
	// the chart, then passCredentials.
	changed := src.path.Child("credentialsRef", "name")
	for _, o := range sourcesOf(&old.Spec) {
		if o.CredentialsRef == nil || o.CredentialsRef.Name != src.CredentialsRef.Name || o.RepoURL != src.RepoURL {
			continue
		}
		switch {
		case o.Chart != src.Chart:
			changed = src.path.Child("chart")
		case passesCredentials(src.ApplicationSource) && !passesCredentials(o.ApplicationSource):
			if changed.String() != src.path.Child("chart").String() {
				changed = src.path.Child("helm", "passCredentials")
			}
		default:
			return nil, ""
		}
	}
	return changed, where
}

// passesCredentials: the source sends its credentials to every host a chart is downloaded from.
func passesCredentials(src *gitops.ApplicationSource) bool {
	return src.Helm != nil && src.Helm.PassCredentials
}

// decryptionNewlyUsed: on create, or when the keys' Secret, the source they decrypt, or the
// destination the decrypted Secrets go to changes.
func decryptionNewlyUsed(app, old *gitops.Application) bool {
	if old == nil || old.Spec.Decryption == nil || old.Spec.Decryption.SecretRef == nil {
		return true
	}
	return old.Spec.Decryption.SecretRef.Name != app.Spec.Decryption.SecretRef.Name ||
		!apiequality.Semantic.DeepEqual(old.Spec.Source, app.Spec.Source) ||
		!apiequality.Semantic.DeepEqual(old.Spec.Sources, app.Spec.Sources) ||
		old.Spec.Destination != app.Spec.Destination
}

// refused asks the authorizer whether user may verb the resource (of group) namespace/name.
func (r *ReferenceAuthorizer) refused(ctx context.Context, u user.Info, group, verb, resource, namespace, name string) (refused bool, why string, err error) {
	return access.Refused(ctx, r.Authorizer, u, group, verb, resource, namespace, name)
}
