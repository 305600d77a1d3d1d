// Package apiserver assembles Ferry's API server: the scheme, the gitops.ferry.dev API group and
// its storage, following the Config -> Complete -> New pattern of k8s.io/apiserver.
package apiserver

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/install"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/validation"
	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/resources"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
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
	// Tenancy says which ServiceAccount each Application acts as; writing an Application
	// requires the right to impersonate it.
	Tenancy tenancy.Policy
	// ClusterCredentialsNamespace is Ferry's namespace, where Clusters' credentials Secrets live.
	ClusterCredentialsNamespace string
	// Reads bound the work of GET .../diff, .../manifests and .../health in this replica; a
	// zero Timeout means three quarters of the server's request timeout.
	Reads application.ReadOptions
	// Notifications is the notification address policy (notify.Policy of
	// --notification-allowed-cidrs): AlertProviders' addresses are checked against it when
	// written and at every delivery. Nil is the default policy, which admits no loopback,
	// link-local or metadata address.
	Notifications *egress.Policy

	// Complete builds these from Controller.Target (buildEngine): the engine, the target
	// cluster's client and the clusters' registry the controllers and the reads share, and the
	// read policy over the engine.
	engine   *engine.Engine
	kube     kubernetes.Interface
	clusters *remote.Registry
	reads    *application.EngineReader
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

// Complete fills in the fields of the configuration that are derived from others: the engine
// the controller and the read subresources share, built from Controller.
func (cfg *Config) Complete() (CompletedConfig, error) {
	c := &completedConfig{
		GenericConfig: cfg.GenericConfig.Complete(),
		ExtraConfig:   &cfg.ExtraConfig,
	}
	if err := c.buildEngine(); err != nil {
		return CompletedConfig{}, err
	}
	return CompletedConfig{c}, nil
}

// New builds the server and installs the gitops.ferry.dev API group.
func (c completedConfig) New() (*FerryServer, error) {
	genericServer, err := c.GenericConfig.New("ferry-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating the generic API server: %w", err)
	}
	s := &FerryServer{GenericAPIServer: genericServer}
	// The scheme's own parameter codec, so the read subresources can take typed query options
	// (ApplicationManifestsOptions from ?revision=).
	apiGroupInfo := genericapiserver.NewDefaultAPIGroupInfo(gitops.GroupName, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
	storage, err := resources.New(Scheme, c.GenericConfig.RESTOptionsGetter, resources.Options{
		Authorizer: c.GenericConfig.Authorization.Authorizer, Validation: c.ExtraConfig.Validation, Tenancy: c.ExtraConfig.Tenancy,
		ClusterCredentialsNamespace: c.ExtraConfig.ClusterCredentialsNamespace, Notifications: c.ExtraConfig.Notifications,
		Reads: c.ExtraConfig.reads, // nil without a target cluster: the reads answer 503
	})
	if err != nil {
		return nil, err
	}
	apiGroupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = storage
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
