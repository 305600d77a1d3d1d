package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +genclient
// +genclient:onlyVerbs=create
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationPreview asks what an Application would deploy at another revision, or from a fork
// of its repository, and how that differs from the cluster: the server answers in status. Like
// a SubjectAccessReview it can only be created, and it is never stored.
type ApplicationPreview struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata; nothing of it is kept.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is what to preview.
	Spec ApplicationPreviewSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Status is the server's answer.
	// +optional
	Status ApplicationPreviewStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ApplicationPreviewSpec names an Application and the revision to preview it at.
type ApplicationPreviewSpec struct {
	// Application is the name of an Application in the preview's namespace. The requester must
	// be allowed to get it.
	Application string `json:"application" protobuf:"bytes,1,opt,name=application"`
	// Revision to render: a branch, tag, full commit SHA or ref such as refs/pull/123/head; for
	// spec.sources, one per source, separated by spaces.
	Revision string `json:"revision" protobuf:"bytes,2,opt,name=revision"`
	// RepoURL replaces the repository of one Git source, such as a fork a pull request comes
	// from. It must pass the checks the Application's own repoURL passes. The Application's
	// repository credentials are sent only when RepoURL is the very URL they were written for:
	// a fork is read anonymously.
	// +optional
	RepoURL string `json:"repoURL,omitempty" protobuf:"bytes,3,opt,name=repoURL"`
	// SourceIndex says which source of spec.sources RepoURL replaces; it must be set when the
	// Application has spec.sources and RepoURL is set.
	// +optional
	SourceIndex *int32 `json:"sourceIndex,omitempty" protobuf:"varint,4,opt,name=sourceIndex"`
	// AsServiceAccount compares with the cluster as the Application's ServiceAccount instead of
	// as the requester; the requester must be allowed to impersonate that ServiceAccount.
	// +optional
	AsServiceAccount bool `json:"asServiceAccount,omitempty" protobuf:"varint,5,opt,name=asServiceAccount"`
}

// ApplicationPreviewStatus is what the Application would deploy at the revision and how that
// differs from the cluster.
type ApplicationPreviewStatus struct {
	// Revision is the commit SHA the revision resolved to (one per source, separated by spaces,
	// for spec.sources).
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,1,opt,name=revision"`
	// ComparedAs is the username the comparison with the cluster ran as: the requester, or the
	// Application's ServiceAccount with spec.asServiceAccount.
	// +optional
	ComparedAs string `json:"comparedAs,omitempty" protobuf:"bytes,2,opt,name=comparedAs"`
	// Objects are the rendered objects, as GET applications/{name}/manifests returns them: the
	// data and stringData values of Secrets are replaced by a mask.
	// +optional
	// +listType=atomic
	Objects []runtime.RawExtension `json:"objects,omitempty" protobuf:"bytes,3,rep,name=objects"`
	// Diff is what a sync to the revision would change, as GET applications/{name}/diff answers.
	// +optional
	Diff PreviewDiff `json:"diff,omitempty" protobuf:"bytes,4,opt,name=diff"`
}

// PreviewDiff is the comparison of a preview with the cluster.
type PreviewDiff struct {
	// Summary counts the objects by action.
	// +optional
	Summary DiffSummary `json:"summary,omitempty" protobuf:"bytes,1,opt,name=summary"`
	// Items are the objects, with what a sync would do and a unified diff of their normalised
	// YAML (live before, desired after).
	// +optional
	// +listType=atomic
	Items []ResourceDiff `json:"items,omitempty" protobuf:"bytes,2,rep,name=items"`
}
