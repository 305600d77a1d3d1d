package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of Ferry's objects.
const GroupName = "gitops.ferry.dev"

// SchemeGroupVersion is the group version these types are served as.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	// SchemeBuilder registers the v1alpha1 types, defaulters and conversions. The generated
	// files add theirs to localSchemeBuilder in init, so this package compiles without them.
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	// AddToScheme adds the v1alpha1 types to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addFieldLabelConversionFuncs)
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&Application{},
		&ApplicationList{},
		&ApplicationSync{},
		&ApplicationRollback{},
		&ApplicationRefresh{},
		&ApplicationHealth{},
		&ApplicationManifests{},
		&ApplicationManifestsOptions{},
		&ApplicationDiff{},
		&ApplicationDiffOptions{},
		&ApplicationPreview{},
		&Cluster{},
		&ClusterList{},
		&ApplicationSet{},
		&ApplicationSetList{},
		&AlertProvider{},
		&AlertProviderList{},
		&Alert{},
		&AlertList{},
		&Receiver{},
		&ReceiverList{},
		&SyncWindow{},
		&SyncWindowList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
