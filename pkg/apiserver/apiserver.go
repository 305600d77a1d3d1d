// Package apiserver assembles Ferry's API server: the scheme, the gitops.ferry.dev API group and
// its storage, following the Config -> Complete -> New pattern of k8s.io/apiserver.
package apiserver

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/install"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/diff"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

var (
	// Scheme holds every type the server serves or reads.
	Scheme = runtime.NewScheme()
	// Codecs encode and decode the types of Scheme.
	Codecs = serializer.NewCodecFactory(Scheme)
)

func init() {
	install.Install(Scheme)

	// The unversioned meta types every API server serves: status, discovery, options.
	metav1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	Scheme.AddUnversionedTypes(unversioned,
		&metav1.Status{},
		&metav1.APIVersions{},
		&metav1.APIGroupList{},
		&metav1.APIGroup{},
		&metav1.APIResourceList{},
	)
}

// ExtraConfig holds Ferry's own settings.
type ExtraConfig struct {
	// Validation holds the server settings validation depends on.
	Validation validation.Options
	// Controller configures the reconciling controller.
	Controller ControllerConfig

	// engine and kube are built by New from Controller.Target, shared by the controller and
	// the read subresources.
	engine *engine.Engine
	kube   kubernetes.Interface
}

// Config is the configuration of a Ferry API server.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

// FerryServer is Ferry's API server.
type FerryServer struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig can only be made by Complete, so New always gets a completed configuration.
type CompletedConfig struct {
	*completedConfig
}

// Complete fills in the fields of the configuration that are derived from others.
func (cfg *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{
		GenericConfig: cfg.GenericConfig.Complete(),
		ExtraConfig:   &cfg.ExtraConfig,
	}}
}

// healthReader judges live objects in the target cluster with Ferry's identity; nil without one.
func (c completedConfig) healthReader() application.HealthReader {
	if c.ExtraConfig.engine == nil {
		return nil
	}
	applier := c.ExtraConfig.engine.Applier()
	return func(ctx context.Context, ref apply.ObjectRef) health.Status {
		live, err := applier.Live(ctx, ref)
		if err != nil {
			return health.Status{Code: v1alpha1.HealthUnknown, Message: err.Error()}
		}
		return health.Of(live)
	}
}

// manifestsRenderer renders an Application with the shared engine, turning the engine's
// failures into API errors that say what went wrong; nil without a target cluster.
func (c completedConfig) manifestsRenderer() application.ManifestsRenderer {
	eng := c.ExtraConfig.engine
	if eng == nil {
		return nil
	}
	return func(ctx context.Context, app *gitops.Application, revision string) (string, []*unstructured.Unstructured, error) {
		_, sha, objs, err := renderAt(ctx, eng, app, revision)
		return sha, objs, err
	}
}

// renderAt resolves and renders an Application at a revision with the engine, which works on
// the versioned type, and turns its failures into API errors.
func renderAt(ctx context.Context, eng *engine.Engine, app *gitops.Application, revision string) (*v1alpha1.Application, string, []*unstructured.Unstructured, error) {
	versioned := &v1alpha1.Application{}
	if err := Scheme.Convert(app, versioned, nil); err != nil {
		return nil, "", nil, apierrors.NewInternalError(err)
	}
	sha, err := eng.Resolve(ctx, versioned, revision)
	if err != nil {
		return nil, "", nil, engineError(err)
	}
	objs, err := eng.Render(ctx, versioned, sha)
	if err != nil {
		return nil, "", nil, engineError(err)
	}
	return versioned, sha, objs, nil
}

// differ compares an Application with the cluster through the shared engine: a server-side
// apply dry run as the Application's identity for every object Git holds, and Delete entries for
// the inventory objects a prune would remove. Nil without a target cluster.
func (c completedConfig) differ() application.Differ {
	eng := c.ExtraConfig.engine
	if eng == nil {
		return nil
	}
	return func(ctx context.Context, app *gitops.Application, revision string) (string, []gitops.ResourceDiff, error) {
		versioned, sha, desired, err := renderAt(ctx, eng, app, revision)
		if err != nil {
			return "", nil, err
		}
		results, err := eng.Applier().Diff(ctx, engine.Identity(versioned), desired, engine.IgnoreRules(versioned))
		if err != nil {
			return "", nil, apierrors.NewInvalid(gitops.Kind("ApplicationDiff"), app.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "source"), sha, "the server refused the dry run: "+err.Error())})
		}
		var items []gitops.ResourceDiff
		inGit := map[apply.ObjectRef]bool{}
		for _, r := range results {
			item := resourceDiff(r.Ref, gitops.DiffNone)
			switch r.Action {
			case apply.Created:
				item.Action = gitops.DiffCreate
			case apply.Configured:
				item.Action = gitops.DiffUpdate
			}
			if item.Action != gitops.DiffNone {
				if item.Diff, err = diff.Unified(r.Live, r.Desired); err != nil {
					return "", nil, apierrors.NewInternalError(err)
				}
			}
			items = append(items, item)
			inGit[withoutVersion(r.Ref)] = true
		}
		appID := apply.App{Namespace: app.Namespace, Name: app.Name}
		for _, res := range app.Status.Resources {
			ref := apply.ObjectRef{Group: res.Group, Version: res.Version, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name}
			if inGit[withoutVersion(ref)] {
				continue
			}
			live, err := eng.Applier().Live(ctx, ref)
			if err != nil || !apply.Owned(appID, live) {
				continue
			}
			item := resourceDiff(ref, gitops.DiffDelete)
			if item.Diff, err = diff.Unified(live, nil); err != nil {
				return "", nil, apierrors.NewInternalError(err)
			}
			items = append(items, item)
		}
		return sha, items, nil
	}
}

func resourceDiff(ref apply.ObjectRef, action gitops.DiffAction) gitops.ResourceDiff {
	return gitops.ResourceDiff{Group: ref.Group, Version: ref.Version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Action: action}
}

func withoutVersion(ref apply.ObjectRef) apply.ObjectRef {
	ref.Version = ""
	return ref
}

// engineError maps a pipeline failure to an HTTP status: Git trouble is the server's (503), a
// revision that does not exist is the caller's (404), a render failure is the content's (422).
func engineError(err error) error {
	var stage *engine.StageError
	if errors.As(err, &stage) {
		switch {
		case stage.Reason == v1alpha1.ReasonGitFailed && stage.Terminal:
			return apierrors.NewNotFound(gitops.Resource("revisions"), err.Error())
		case stage.Reason == v1alpha1.ReasonGitFailed || stage.Reason == v1alpha1.ReasonCredentialsError:
			return apierrors.NewServiceUnavailable(err.Error())
		case stage.Reason == v1alpha1.ReasonRenderFailed:
			return apierrors.NewInvalid(gitops.Kind("ApplicationManifests"), "", field.ErrorList{field.Invalid(field.NewPath("spec", "source", "path"), "", err.Error())})
		}
	}
	return apierrors.NewInternalError(err)
}

// New builds the server and installs the gitops.ferry.dev API group.
func (c completedConfig) New() (*FerryServer, error) {
	genericServer, err := c.GenericConfig.New("ferry-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating the generic API server: %w", err)
	}
	s := &FerryServer{GenericAPIServer: genericServer}

	if c.ExtraConfig.engine, c.ExtraConfig.kube, err = c.newEngine(); err != nil {
		return nil, err
	}
	// The scheme's own parameter codec, so the read subresources can take typed query options
	// (ApplicationManifestsOptions from ?revision=).
	apiGroupInfo := genericapiserver.NewDefaultAPIGroupInfo(gitops.GroupName, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
	apps, err := application.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter, c.ExtraConfig.Validation, c.healthReader())
	if err != nil {
		return nil, err
	}
	apiGroupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"applications":           apps.Application,
		"applications/status":    apps.Status,
		"applications/sync":      apps.Sync,
		"applications/health":    apps.Health,
		"applications/manifests": application.NewManifestsREST(apps.Application.Store, c.manifestsRenderer()),
		"applications/diff":      application.NewDiffREST(apps.Application.Store, c.differ()),
	}
	if err := s.GenericAPIServer.InstallAPIGroup(&apiGroupInfo); err != nil {
		return nil, fmt.Errorf("installing the %s API group: %w", gitops.GroupName, err)
	}
	if err := s.GenericAPIServer.AddPostStartHook("start-ferry-controller", func(hookCtx genericapiserver.PostStartHookContext) error {
		return c.startController(hookCtx, hookCtx.LoopbackClientConfig)
	}); err != nil {
		return nil, err
	}
	return s, nil
}
