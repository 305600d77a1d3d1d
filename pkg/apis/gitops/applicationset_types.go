package gitops

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationSet generates Applications from a template and the parameters of its generators:
// one Application per list element, per matching Cluster, per directory or file of a
// repository, or per combination of two of these (matrix). It owns what it generates: it
// creates, updates and deletes them as the parameters change, as spec.syncPolicy allows.
// Generated Applications act as the set's ServiceAccount, and every generation checks that
// this ServiceAccount may use what each Application names (clusters, Secrets).
type ApplicationSet struct {
	metav1.TypeMeta
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta

	// Spec is what to generate.
	Spec ApplicationSetSpec
	// Status is what Ferry last generated. Only Ferry's own controller writes it.
	// +optional
	Status ApplicationSetStatus
}

// ApplicationSetSpec is what an ApplicationSet generates.
type ApplicationSetSpec struct {
	// Generators produce the sets of parameters; each set makes one Application. The results of
	// several generators are put together; two sets that make the same Application name are an
	// error.
	// +listType=atomic
	Generators []ApplicationSetGenerator
	// Template is the Application made for each set of parameters. Every string in it is a Go
	// template over the parameters ({{.name}}, {{.metadata.labels.env}}); a parameter that does
	// not exist is an error, not an empty string.
	Template ApplicationSetTemplate
	// ServiceAccountName names the ServiceAccount of this namespace every generated Application
	// acts as; empty means the server's default (--default-service-account). Writing the set
	// requires the right to impersonate it, and each generation checks what that ServiceAccount
	// may use: a Cluster it may not use generates no Application.
	// +optional
	ServiceAccountName string
	// SyncPolicy says what the set may do to the Applications it generated.
	// +optional
	SyncPolicy ApplicationSetSyncPolicy
	// Strategy says how a change reaches the generated Applications; empty updates them all at
	// once.
	// +optional
	Strategy *ApplicationSetStrategy
}

// ApplicationSetGenerator is one generator; exactly one field is set.
type ApplicationSetGenerator struct {
	// List generates one set of parameters per element.
	// +optional
	List *ListGenerator
	// Clusters generates one set of parameters per registered Cluster its selector matches.
	// +optional
	Clusters *ClusterGenerator
	// Git generates one set of parameters per directory or file of a repository.
	// +optional
	Git *GitGenerator
	// Matrix combines every set of parameters of its first generator with every set of its
	// second.
	// +optional
	Matrix *MatrixGenerator
}

// ApplicationSetNestedGenerator is a generator inside a matrix; exactly one field is set.
type ApplicationSetNestedGenerator struct {
	// +optional
	List *ListGenerator
	// +optional
	Clusters *ClusterGenerator
	// +optional
	Git *GitGenerator
}

// ListGenerator generates one set of parameters per element.
type ListGenerator struct {
	// Elements are JSON objects whose fields are the parameters.
	// +listType=atomic
	Elements []runtime.RawExtension
}

// ClusterGenerator generates one set of parameters per Cluster: name, server,
// metadata.labels.<key>, metadata.annotations.<key>, and values.<key>.
type ClusterGenerator struct {
	// Selector selects Clusters by label; empty selects every Cluster.
	// +optional
	Selector metav1.LabelSelector
	// Values are extra parameters, the same for every Cluster, under values.<key>.
	// +optional
	Values map[string]string
}

// GitGenerator reads one commit of a repository (fetched once for all the Applications it
// makes) and generates one set of parameters per directory matching Directories, or per file
// matching Files (whose YAML or JSON fields become parameters). Either way, path.path,
// path.basename, path.basenameNormalized and path.segments describe the directory.
type GitGenerator struct {
	// RepoURL is the repository, as spec.source.repoURL of an Application.
	RepoURL string
	// Revision is a branch, tag or commit; default HEAD.
	// +optional
	Revision string
	// CredentialsRef names a Secret of the set's namespace holding the repository's credentials.
	// +optional
	CredentialsRef *LocalObjectReference
	// Directories are path globs (path.Match, per segment: apps/*); a directory matching one
	// with exclude false, and none with exclude true, generates parameters.
	// +optional
	// +listType=atomic
	Directories []GitDirectoryGeneratorItem
	// Files are path globs of YAML or JSON files (clusters/*/config.json); each file's fields
	// are parameters.
	// +optional
	// +listType=atomic
	Files []GitFileGeneratorItem
}

// GitDirectoryGeneratorItem is a glob of directories.
type GitDirectoryGeneratorItem struct {
	Path string
	// Exclude removes the directories matching Path from those other items matched.
	// +optional
	Exclude bool
}

// GitFileGeneratorItem is a glob of files.
type GitFileGeneratorItem struct {
	Path string
}

// MatrixGenerator combines two generators.
type MatrixGenerator struct {
	// Generators are exactly two generators; a parameter both produce takes the second's value.
	// +listType=atomic
	Generators []ApplicationSetNestedGenerator
}

// ApplicationSetTemplate is the Application made for each set of parameters.
type ApplicationSetTemplate struct {
	// Metadata of the generated Application: its name (required, a template) and labels and
	// annotations. It is made in the set's namespace.
	Metadata ApplicationSetTemplateMeta
	// Spec of the generated Application. spec.serviceAccountName is the set's.
	Spec ApplicationSpec
}

// ApplicationSetTemplateMeta is the metadata of a generated Application.
type ApplicationSetTemplateMeta struct {
	Name string
	// +optional
	Labels map[string]string
	// +optional
	Annotations map[string]string
}

// ApplicationsSyncPolicy says what an ApplicationSet may do to the Applications it generated.
type ApplicationsSyncPolicy string

const (
	// ApplicationsSyncSync creates, updates and deletes: the generated Applications are
	// exactly what the generators say.
	ApplicationsSyncSync ApplicationsSyncPolicy = "sync"
	// ApplicationsSyncCreateUpdate creates and updates, and never deletes.
	ApplicationsSyncCreateUpdate ApplicationsSyncPolicy = "create-update"
	// ApplicationsSyncCreateOnly creates, and never changes or deletes.
	ApplicationsSyncCreateOnly ApplicationsSyncPolicy = "create-only"
)

// ApplicationSetSyncPolicy says what an ApplicationSet may do to what it generated.
type ApplicationSetSyncPolicy struct {
	// ApplicationsSync is sync (default), create-update or create-only.
	// +optional
	ApplicationsSync ApplicationsSyncPolicy
	// PreserveResourcesOnDeletion keeps the objects of a generated Application when it is
	// deleted (it is generated with gitops.ferry.dev/deletion-policy: orphan): deleting the set,
	// or a Cluster leaving its selector, then deletes Applications but not what they deployed.
	// +optional
	PreserveResourcesOnDeletion bool
}

// ApplicationSetStrategy says how a change of the set reaches the Applications it generated.
type ApplicationSetStrategy struct {
	// RollingSync rolls a change out step by step: a change of the template, or a new commit of
	// a branch the template names, reaches the Applications of step N+1 only when every
	// Application of step N is Synced and Healthy at it. A Degraded Application stops the
	// rollout. Automated sync stays as the template says: the set holds back each Application's
	// spec, not its sync policy, and names each Git revision by its commit, so an Application
	// of a later step stays at the commit it was given.
	// +optional
	RollingSync *RollingSyncStrategy
}

// RollingSyncStrategy is the ordered steps of a rollout.
type RollingSyncStrategy struct {
	// Steps are taken in order. An Application belongs to the first step whose selector matches
	// its labels; one matching no step is updated last, after every step.
	// +listType=atomic
	Steps []RollingSyncStep
}

// RollingSyncStep is one step of a rollout.
type RollingSyncStep struct {
	// Name names the step in status and events; default step-N (from 1).
	// +optional
	Name string
	// Selector selects generated Applications by label (the template's labels).
	Selector metav1.LabelSelector
	// MaxUpdate is how many Applications of the step are updated and not yet Synced and Healthy
	// at once: a count, or a percentage of the step's Applications (rounded down, at least one).
	// Default 100%. Zero holds the rollout before this step until it is raised.
	// +optional
	MaxUpdate *intstr.IntOrString
}

// RolloutStepPhase is where one step of a rollout stands.
type RolloutStepPhase string

const (
	// RolloutStepWaiting: an earlier step is not done.
	RolloutStepWaiting RolloutStepPhase = "Waiting"
	// RolloutStepProgressing: some of its Applications are updated and not yet Synced and
	// Healthy, or wait for their turn.
	RolloutStepProgressing RolloutStepPhase = "Progressing"
	// RolloutStepComplete: every Application of the step is Synced and Healthy at its target.
	RolloutStepComplete RolloutStepPhase = "Complete"
	// RolloutStepDegraded: an updated Application of the step is Degraded; the rollout stops.
	RolloutStepDegraded RolloutStepPhase = "Degraded"
	// RolloutStepPaused: maxUpdate is zero.
	RolloutStepPaused RolloutStepPhase = "Paused"
)

// RolloutStepStatus is one step of a rolling sync.
type RolloutStepStatus struct {
	Name  string
	Phase RolloutStepPhase
	// Applications is how many generated Applications the step holds.
	Applications int32
	// Updated is how many have the set's current spec.
	Updated int32
	// Ready is how many of those are Synced and Healthy at it.
	Ready int32
	// Message says what the step waits for, or which Applications are Degraded.
	// +optional
	Message string
}

// ApplicationSetStatus is what an ApplicationSet last generated.
type ApplicationSetStatus struct {
	// ObservedGeneration is the generation of the spec last generated from.
	// +optional
	ObservedGeneration int64
	// Conditions: Ready is True when every set of parameters made an Application that is up to
	// date; its reason says what went wrong otherwise (GenerateFailed, TemplateFailed,
	// Forbidden, ApplyFailed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition
	// Applications are the generated Applications, by name, with their sync and health.
	// +optional
	// +listType=atomic
	Applications []ApplicationSetApplicationStatus
	// GitRevision is the commit the git generators read last.
	// +optional
	GitRevision string
	// Steps are where a rolling sync stands, one entry per step of spec.strategy.rollingSync
	// (and a last one, "unmatched", when Applications match no step).
	// +optional
	// +listType=atomic
	Steps []RolloutStepStatus
}

// ApplicationSetApplicationStatus is one generated Application.
type ApplicationSetApplicationStatus struct {
	Name string
	// Cluster is the generated Application's spec.destination.cluster.
	// +optional
	Cluster string
	// +optional
	Sync SyncStatusCode
	// +optional
	Health HealthStatusCode
	// Step is the rolling sync step the Application belongs to.
	// +optional
	Step string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationSetList is a list of ApplicationSets.
type ApplicationSetList struct {
	metav1.TypeMeta
	// Standard list metadata.
	// +optional
	metav1.ListMeta
	// Items are the ApplicationSets.
	Items []ApplicationSet
}
