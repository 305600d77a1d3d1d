package applicationset

import (
	"context"
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/access"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/status"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// Options are what the storage validates and checks writes with.
type Options struct {
	Validation validation.Options
	// Templates checks the template's strings parse; nil checks nothing.
	Templates validation.TemplateChecker
	// Authorizer answers the write-time checks; nil checks nothing (tests of the registry alone).
	Authorizer authorizer.Authorizer
	// Tenancy says which ServiceAccount the generated Applications act as.
	Tenancy tenancy.Policy
}

// Storage is everything the API server installs for ApplicationSets.
type Storage struct {
	ApplicationSet *REST
	Status         *status.REST
}

// NewStorage builds the etcd-backed storage of ApplicationSets and their status.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (Storage, error) {
	strategy := setStrategy{ObjectTyper: scheme, NameGenerator: names.SimpleNameGenerator, validation: opts.Validation, templates: opts.Templates}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &gitops.ApplicationSet{} },
		NewListFunc:               func() runtime.Object { return &gitops.ApplicationSetList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  gitops.Resource("applicationsets"),
		SingularQualifiedResource: gitops.Resource("applicationset"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return Storage{}, fmt.Errorf("setting up storage of applicationsets: %w", err)
	}
	return Storage{
		ApplicationSet: newREST(store, opts),
		Status:         status.New(store, statusStrategy{strategy}),
	}, nil
}

// REST is the storage of the main resource, applicationsets.
type REST struct {
	*access.Guarded
	opts Options
}

// newREST guards the store's writes with the check of what a ApplicationSet names.
func newREST(store *genericregistry.Store, opts Options) *REST {
	r := &REST{opts: opts}
	r.Guarded = &access.Guarded{Store: store, Check: access.Typed(r.check)}
	return r
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets users type `kubectl get appset`.
func (*REST) ShortNames() []string { return []string{"appset", "fappset"} }

// Categories puts ApplicationSets into `kubectl get gitops`.
func (*REST) Categories() []string { return []string{"gitops"} }

// check: whoever writes a set's spec deploys, through every Application it generates, with the
// power of its ServiceAccount, so must be allowed to impersonate it; and must be allowed to read
// the credentials its git generators send. What each generated Application names (Clusters
// above all) is checked against the ServiceAccount each time the set generates.
func (r *REST) check(ctx context.Context, set, old *gitops.ApplicationSet) error {
	if r.opts.Authorizer == nil || old != nil && apiequality.Semantic.DeepEqual(set.Spec, old.Spec) {
		return nil
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gitops.Resource("applicationsets"), set.Name, fmt.Errorf("no user in the request"))
	}
	var errs field.ErrorList
	ask := func(path *field.Path, group, verb, resource, name, what string) error {
		refused, why, err := access.Refused(ctx, r.opts.Authorizer, u, group, verb, resource, set.Namespace, name)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		if refused {
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("user %q may not %s %s %s/%s%s%s", u.GetName(), verb, resource[:len(resource)-1], set.Namespace, name, why, what)))
		}
		return nil
	}
	if sa := r.opts.Tenancy.ServiceAccount(set.Namespace, set.Spec.ServiceAccountName); sa != "" {
		what := ", whom every Application of the set acts as"
		if set.Spec.ServiceAccountName == "" {
			what = fmt.Sprintf(" (a set that names none acts as %q of its namespace)%s", sa, what)
		}
		if err := ask(field.NewPath("spec", "serviceAccountName"), "", "impersonate", "serviceaccounts", sa, what); err != nil {
			return err
		}
	}
	for i, g := range set.Spec.Generators {
		gits := []*gitops.GitGenerator{g.Git}
		paths := []*field.Path{field.NewPath("spec", "generators").Index(i).Child("git")}
		if g.Matrix != nil {
			gits, paths = nil, nil
			for j, n := range g.Matrix.Generators {
				gits = append(gits, n.Git)
				paths = append(paths, field.NewPath("spec", "generators").Index(i).Child("matrix", "generators").Index(j).Child("git"))
			}
		}
		for k, git := range gits {
			if git == nil || git.CredentialsRef == nil {
				continue
			}
			if err := ask(paths[k].Child("credentialsRef", "name"), "", "get", "secrets", git.CredentialsRef.Name, ", whose credentials Ferry would send to "+git.RepoURL); err != nil {
				return err
			}
		}
	}
	if len(errs) > 0 {
		return apierrors.NewForbidden(gitops.Resource("applicationsets"), set.Name, errs.ToAggregate())
	}
	return nil
}
