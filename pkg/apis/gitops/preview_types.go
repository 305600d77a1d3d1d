package gitops

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationPreview asks what an Application would deploy at another revision, or from a fork
// of its repository, and how that differs from the cluster: the server answers in status. Like
// a SubjectAccessReview it can only be created, and it is never stored.
type ApplicationPreview struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ApplicationPreviewSpec
	Status ApplicationPreviewStatus
}

// ApplicationPreviewSpec names an Application and the revision to preview it at.
type ApplicationPreviewSpec struct {
	// Application is the name of an Application in the preview's namespace.
	Application string
	// Revision to render: a branch, tag, full commit SHA or ref; one per source, separated by
	// spaces, for spec.sources.
	Revision string
	// RepoURL replaces the repository of one Git source (a fork); credentials go only to the
	// URL they were written for.
	RepoURL string
	// SourceIndex says which source of spec.sources RepoURL replaces.
	SourceIndex *int32
	// AsServiceAccount compares as the Application's ServiceAccount instead of the requester.
	AsServiceAccount bool
}

// ApplicationPreviewStatus is what the Application would deploy at the revision and how that
// differs from the cluster.
type ApplicationPreviewStatus struct {
	// Revision is the commit SHA the revision resolved to.
	Revision string
	// ComparedAs is the username the comparison with the cluster ran as.
	ComparedAs string
	// Objects are the rendered objects, Secret values masked.
	Objects []runtime.RawExtension
	// Diff is what a sync to the revision would change.
	Diff PreviewDiff
}

// PreviewDiff is the comparison of a preview with the cluster.
type PreviewDiff struct {
	Summary DiffSummary
	Items   []ResourceDiff
}
