package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Cluster registers a Kubernetes cluster Applications can deploy into by naming it in
// spec.destination.cluster. Ferry reaches it at spec.server with the credentials of a Secret in
// Ferry's own namespace, and impersonates each Application's ServiceAccount there. Writing an
// Application that targets a Cluster requires the verb "use" on clusters/<name>.
type Cluster struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata. Labels select Clusters for ApplicationSets.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is how Ferry reaches the cluster.
	Spec ClusterSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Status is what Ferry last saw of the cluster. Only Ferry's own controller writes it.
	// +optional
	Status ClusterStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ClusterSpec is how Ferry reaches a cluster.
type ClusterSpec struct {
	// Server is the https URL of the cluster's kube-apiserver.
	Server string `json:"server" protobuf:"bytes,1,opt,name=server"`
	// CABundle holds the PEM certificates that sign the server's certificate. Empty means the
	// system's trusted roots.
	// +optional
	CABundle []byte `json:"caBundle,omitempty" protobuf:"bytes,2,opt,name=caBundle"`
	// CredentialsRef names a Secret in Ferry's own namespace holding Ferry's credentials for the
	// cluster: a bearer token under "token", or a client certificate and key under "tls.crt"
	// and "tls.key". Exec plugins and auth providers are not supported. The identity needs the
	// right to impersonate the ServiceAccounts Applications act as there, and to list and watch
	// the kinds they deploy.
	CredentialsRef LocalObjectReference `json:"credentialsRef" protobuf:"bytes,3,opt,name=credentialsRef"`
	// TLSServerName is the name the server's certificate is checked against, when it is not the
	// host of Server.
	// +optional
	TLSServerName string `json:"tlsServerName,omitempty" protobuf:"bytes,4,opt,name=tlsServerName"`
}

// ClusterStatus is what Ferry last saw of a cluster.
type ClusterStatus struct {
	// ObservedGeneration is the generation of the spec the last probe used.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// Conditions: Ready is True when Ferry reached the cluster with its credentials at the last
	// probe; its reason says why not (Unreachable, Unauthorized, CredentialsError).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,2,rep,name=conditions"`
	// KubernetesVersion is the version the cluster's API server reported, such as v1.37.2.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty" protobuf:"bytes,3,opt,name=kubernetesVersion"`
	// LastProbeTime is when Ferry last tried to reach the cluster.
	// +optional
	LastProbeTime *metav1.Time `json:"lastProbeTime,omitempty" protobuf:"bytes,4,opt,name=lastProbeTime"`
	// Applications is how many Applications target the cluster.
	// +optional
	Applications int32 `json:"applications,omitempty" protobuf:"varint,5,opt,name=applications"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterList is a list of Clusters.
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items are the Clusters.
	Items []Cluster `json:"items" protobuf:"bytes,2,rep,name=items"`
}
