// Package applicationpreview serves ApplicationPreviews: a create-only kind, stored nowhere, like
// SubjectAccessReview. A POST names an Application and a revision (and maybe a fork); the answer
// holds the rendered objects and what a sync would change, compared as the person who asked.
//
// Order matters: the request is validated, then the requester's right to get the Application is
// asked before the Application is read, and nothing is fetched or rendered for someone refused.
package applicationpreview

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	clientrest "k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/diff"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// Options are what previews are authorised, validated and computed with.
type Options struct {
	// Applications reads the Application a preview names (the Application store).
	Applications rest.Getter
	// Authorizer is the server's delegated authorizer: get on the Application, get on secrets
	// for one that decrypts, impersonate on its ServiceAccount for spec.asServiceAccount. Nil
	// checks nothing (tests of the registry alone).
	Authorizer authorizer.Authorizer
	// Tenancy says which ServiceAccount an Application acts as.
	Tenancy tenancy.Policy
	// Validation holds the server settings spec.repoURL is checked against.
	Validation validation.Options
	// Preview computes the answer; nil without a target cluster, when previews answer 503.
	Preview application.Previewer
}

// REST serves POST applicationpreviews.
type REST struct {
	o Options
}

var (
	_ rest.Creater              = &REST{} //nolint:misspell // the interface's name in k8s.io/apiserver
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.TableConvertor       = &REST{}
)

// NewREST returns the storage of ApplicationPreviews.
func NewREST(o Options) *REST { return &REST{o: o} }

// New returns an empty ApplicationPreview.
func (r *REST) New() runtime.Object { return &gitops.ApplicationPreview{} }

// Destroy does nothing: there is no store.
func (r *REST) Destroy() {}

// NamespaceScoped: a preview lives in the namespace of the Application it names.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is the singular of the resource.
func (r *REST) GetSingularName() string { return "applicationpreview" }

var resource = gitops.Resource("applicationpreviews")

// Create answers a preview. Nothing is written anywhere, whatever ?dryRun says.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	p, ok := obj.(*gitops.ApplicationPreview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ApplicationPreview: %T", obj))
	}
	ns, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || ns == "" {
		return nil, apierrors.NewBadRequest("an ApplicationPreview is created in the namespace of its Application")
	}
	p.Namespace = ns
	if errs := validation.ValidateApplicationPreview(p, r.o.Validation); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationPreview"), p.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, p.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewForbidden(resource, p.Name, fmt.Errorf("no user in the request"))
	}
	// Before the Application is read: whoever may not get it learns nothing of it, not even
	// whether it exists, and costs no fetch or render.
	if err := r.allowed(ctx, u, p, gitops.GroupName, "get", "applications", p.Spec.Application, func(why string) string {
		return fmt.Sprintf("a preview shows what Application %s/%s deploys: user %q may not get it%s",
			ns, p.Spec.Application, u.GetName(), why)
	}); err != nil {
		return nil, err
	}
	got, err := r.o.Applications.Get(ctx, p.Spec.Application, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	app := got.(*gitops.Application)
	if errs := validation.ValidatePreviewAgainst(p, app); len(errs) > 0 {
		return nil, apierrors.NewInvalid(gitops.Kind("ApplicationPreview"), p.Name, errs)
	}
	if err := application.CheckDecryptedRead(ctx, r.o.Authorizer, app, resource, p.Name, "preview"); err != nil {
		return nil, err
	}
	req := application.PreviewRequest{Revision: p.Spec.Revision, RepoURL: p.Spec.RepoURL}
	if i := p.Spec.SourceIndex; i != nil {
		req.SourceIndex = int(*i)
	}
	if p.Spec.AsServiceAccount {
		if err := r.mayActAs(ctx, u, p, app); err != nil {
			return nil, err
		}
	} else {
		req.As = impersonationOf(u)
	}
	if r.o.Preview == nil {
		return nil, apierrors.NewServiceUnavailable("ferry-apiserver has no target cluster to compare with (start it with --kubeconfig, --target-kubeconfig or in a cluster)")
	}
	res, err := r.o.Preview(ctx, app, req)
	if err != nil {
		return nil, err
	}
	p.Status = gitops.ApplicationPreviewStatus{Revision: res.Revision, ComparedAs: res.ComparedAs}
	for _, o := range res.Objects {
		diff.MaskSecret(o)
		raw, err := o.MarshalJSON()
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		p.Status.Objects = append(p.Status.Objects, runtime.RawExtension{Raw: raw})
	}
	p.Status.Diff.Items = res.Items
	p.Status.Diff.Summary = application.Summarize(res.Items)
	return p, nil
}

// mayActAs refuses spec.asServiceAccount unless the requester may impersonate the
// ServiceAccount the Application acts as: the comparison would otherwise show what that
// ServiceAccount may read and do, which the requester may not.
func (r *REST) mayActAs(ctx context.Context, u user.Info, p *gitops.ApplicationPreview, app *gitops.Application) error {
	sa := r.o.Tenancy.ServiceAccount(app.Namespace, app.Spec.ServiceAccountName)
	if sa == "" {
		return apierrors.NewForbidden(resource, p.Name, fmt.Errorf(
			"spec.asServiceAccount: Application %s/%s acts as Ferry's privileged identity, not as a ServiceAccount of its namespace; preview it as yourself",
			app.Namespace, app.Name))
	}
	return r.allowed(ctx, u, p, "", "impersonate", "serviceaccounts", sa, func(why string) string {
		return fmt.Sprintf("spec.asServiceAccount compares as ServiceAccount %s/%s, which Application %s/%s acts as: user %q may not impersonate it%s",
			app.Namespace, sa, app.Namespace, app.Name, u.GetName(), why)
	})
}

// allowed asks the authorizer whether u may verb the resource (of group) name in the
// preview's namespace, and answers 403 with message(why) when not.
func (r *REST) allowed(ctx context.Context, u user.Info, p *gitops.ApplicationPreview, group, verb, res, name string, message func(why string) string) error {
	if r.o.Authorizer == nil {
		return nil
	}
	refused, why, err := access.Refused(ctx, r.o.Authorizer, u, group, verb, res, p.Namespace, name)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if refused {
		return apierrors.NewForbidden(resource, p.Name, fmt.Errorf("%s", message(why)))
	}
	return nil
}

// impersonationOf is the requester as kube-apiserver authenticated them: name, UID, groups and
// extra, so that the cluster authorises the comparison exactly as it would their own requests.
func impersonationOf(u user.Info) *clientrest.ImpersonationConfig {
	return &clientrest.ImpersonationConfig{UserName: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: u.GetExtra()}
}
