package v1alpha1

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationSet generates Applications from a template and the parameters of its generators:
// one Application per list element, per matching Cluster, per directory or file of a
// repository, or per combination of two of these (matrix). It owns what it generates: it
// creates, updates and deletes them as the parameters change, as spec.syncPolicy allows.
// Generated Applications act as the set's ServiceAccount, and every generation checks that
// this ServiceAccount may use what each Application names (clusters, Secrets).
type ApplicationSet struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is what to generate.
	Spec ApplicationSetSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Status is what Ferry last generated. Only Ferry's own controller writes it.
	// +optional
	Status ApplicationSetStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ApplicationSetSpec is what an ApplicationSet generates.
type ApplicationSetSpec struct {
	// Generators produce the sets of parameters; each set makes one Application. The results of
	// several generators are put together; two sets that make the same Application name are an
	// error.
	// +listType=atomic
	Generators []ApplicationSetGenerator `json:"generators" protobuf:"bytes,1,rep,name=generators"`
	// Template is the Application made for each set of parameters. Every string in it is a Go
	// template over the parameters ({{.name}}, {{.metadata.labels.env}}); a parameter that does
	// not exist is an error, not an empty string.
	Template ApplicationSetTemplate `json:"template" protobuf:"bytes,2,opt,name=template"`
	// ServiceAccountName names the ServiceAccount of this namespace every generated Application
	// acts as; empty means the server's default (--default-service-account). Writing the set
	// requires the right to impersonate it, and each generation checks what that ServiceAccount
	// may use: a Cluster it may not use generates no Application.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty" protobuf:"bytes,3,opt,name=serviceAccountName"`
	// SyncPolicy says what the set may do to the Applications it generated.
	// +optional
	SyncPolicy ApplicationSetSyncPolicy `json:"syncPolicy,omitempty" protobuf:"bytes,4,opt,name=syncPolicy"`
	// Strategy says how a change reaches the generated Applications; empty updates them all at
	// once.
	// +optional
	Strategy *ApplicationSetStrategy `json:"strategy,omitempty" protobuf:"bytes,5,opt,name=strategy"`
}

// ApplicationSetGenerator is one generator; exactly one field is set.
type ApplicationSetGenerator struct {
	// List generates one set of parameters per element.
	// +optional
	List *ListGenerator `json:"list,omitempty" protobuf:"bytes,1,opt,name=list"`
	// Clusters generates one set of parameters per registered Cluster its selector matches.
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty" protobuf:"bytes,2,opt,name=clusters"`
	// Git generates one set of parameters per directory or file of a repository.
	// +optional
	Git *GitGenerator `json:"git,omitempty" protobuf:"bytes,3,opt,name=git"`
	// Matrix combines every set of parameters of its first generator with every set of its
	// second.
	// +optional
	Matrix *MatrixGenerator `json:"matrix,omitempty" protobuf:"bytes,4,opt,name=matrix"`
}

// ApplicationSetNestedGenerator is a generator inside a matrix; exactly one field is set.
type ApplicationSetNestedGenerator struct {
	// +optional
	List *ListGenerator `json:"list,omitempty" protobuf:"bytes,1,opt,name=list"`
	// +optional
	Clusters *ClusterGenerator `json:"clusters,omitempty" protobuf:"bytes,2,opt,name=clusters"`
	// +optional
	Git *GitGenerator `json:"git,omitempty" protobuf:"bytes,3,opt,name=git"`
}

// ListGenerator generates one set of parameters per element.
type ListGenerator struct {
	// Elements are JSON objects whose fields are the parameters.
	// +listType=atomic
	Elements []runtime.RawExtension `json:"elements" protobuf:"bytes,1,rep,name=elements"`
}

// ClusterGenerator generates one set of parameters per Cluster: name, server,
// metadata.labels.<key>, metadata.annotations.<key>, and values.<key>.
type ClusterGenerator struct {
	// Selector selects Clusters by label; empty selects every Cluster.
	// +optional
	Selector metav1.LabelSelector `json:"selector,omitempty" protobuf:"bytes,1,opt,name=selector"`
	// Values are extra parameters, the same for every Cluster, under values.<key>.
	// +optional
	Values map[string]string `json:"values,omitempty" protobuf:"bytes,2,rep,name=values"`
}

// GitGenerator reads one commit of a repository (fetched once for all the Applications it
// makes) and generates one set of parameters per directory matching Directories, or per file
// matching Files (whose YAML or JSON fields become parameters). Either way, path.path,
// path.basename, path.basenameNormalized and path.segments describe the directory.
type GitGenerator struct {
	// RepoURL is the repository, as spec.source.repoURL of an Application.
	RepoURL string `json:"repoURL" protobuf:"bytes,1,opt,name=repoURL"`
	// Revision is a branch, tag or commit; default HEAD.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,2,opt,name=revision"`
	// CredentialsRef names a Secret of the set's namespace holding the repository's credentials.
	// +optional
	CredentialsRef *LocalObjectReference `json:"credentialsRef,omitempty" protobuf:"bytes,3,opt,name=credentialsRef"`
	// Directories are path globs (path.Match, per segment: apps/*); a directory matching one
	// with exclude false, and none with exclude true, generates parameters.
	// +optional
	// +listType=atomic
	Directories []GitDirectoryGeneratorItem `json:"directories,omitempty" protobuf:"bytes,4,rep,name=directories"`
	// Files are path globs of YAML or JSON files (clusters/*/config.json); each file's fields
	// are parameters.
	// +optional
	// +listType=atomic
	Files []GitFileGeneratorItem `json:"files,omitempty" protobuf:"bytes,5,rep,name=files"`
}

// GitDirectoryGeneratorItem is a glob of directories.
type GitDirectoryGeneratorItem struct {
	Path string `json:"path" protobuf:"bytes,1,opt,name=path"`
	// Exclude removes the directories matching Path from those other items matched.
	// +optional
	Exclude bool `json:"exclude,omitempty" protobuf:"varint,2,opt,name=exclude"`
}

// GitFileGeneratorItem is a glob of files.
type GitFileGeneratorItem struct {
	Path string `json:"path" protobuf:"bytes,1,opt,name=path"`
}

// MatrixGenerator combines two generators.
type MatrixGenerator struct {
	// Generators are exactly two generators; a parameter both produce takes the second's value.
	// +listType=atomic
	Generators []ApplicationSetNestedGenerator `json:"generators" protobuf:"bytes,1,rep,name=generators"`
}

// ApplicationSetTemplate is the Application made for each set of parameters.
type ApplicationSetTemplate struct {
	// Metadata of the generated Application: its name (required, a template) and labels and
	// annotations. It is made in the set's namespace.
	Metadata ApplicationSetTemplateMeta `json:"metadata" protobuf:"bytes,1,opt,name=metadata"`
	// Spec of the generated Application. spec.serviceAccountName is the set's.
	Spec ApplicationSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
}

// ApplicationSetTemplateMeta is the metadata of a generated Application.
type ApplicationSetTemplateMeta struct {
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// +optional
	Labels map[string]string `json:"labels,omitempty" protobuf:"bytes,2,rep,name=labels"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty" protobuf:"bytes,3,rep,name=annotations"`
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
	ApplicationsSync ApplicationsSyncPolicy `json:"applicationsSync,omitempty" protobuf:"bytes,1,opt,name=applicationsSync,casttype=ApplicationsSyncPolicy"`
	// PreserveResourcesOnDeletion keeps the objects of a generated Application when it is
	// deleted (it is generated with gitops.ferry.dev/deletion-policy: orphan): deleting the set,
	// or a Cluster leaving its selector, then deletes Applications but not what they deployed.
	// +optional
	PreserveResourcesOnDeletion bool `json:"preserveResourcesOnDeletion,omitempty" protobuf:"varint,2,opt,name=preserveResourcesOnDeletion"`
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
	RollingSync *RollingSyncStrategy `json:"rollingSync,omitempty" protobuf:"bytes,1,opt,name=rollingSync"`
}

// RollingSyncStrategy is the ordered steps of a rollout.
type RollingSyncStrategy struct {
	// Steps are taken in order. An Application belongs to the first step whose selector matches
	// its labels; one matching no step is updated last, after every step.
	// +listType=atomic
	Steps []RollingSyncStep `json:"steps" protobuf:"bytes,1,rep,name=steps"`
}

// RollingSyncStep is one step of a rollout.
type RollingSyncStep struct {
	// Name names the step in status and events; default step-N (from 1).
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,1,opt,name=name"`
	// Selector selects generated Applications by label (the template's labels).
	Selector metav1.LabelSelector `json:"selector" protobuf:"bytes,2,opt,name=selector"`
	// MaxUpdate is how many Applications of the step are updated and not yet Synced and Healthy
	// at once: a count, or a percentage of the step's Applications (rounded down, at least one).
	// Default 100%. Zero holds the rollout before this step until it is raised.
	// +optional
	MaxUpdate *intstr.IntOrString `json:"maxUpdate,omitempty" protobuf:"bytes,3,opt,name=maxUpdate"`
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
	Name  string           `json:"name" protobuf:"bytes,1,opt,name=name"`
	Phase RolloutStepPhase `json:"phase" protobuf:"bytes,2,opt,name=phase,casttype=RolloutStepPhase"`
	// Applications is how many generated Applications the step holds.
	Applications int32 `json:"applications" protobuf:"varint,3,opt,name=applications"`
	// Updated is how many have the set's current spec.
	Updated int32 `json:"updated" protobuf:"varint,4,opt,name=updated"`
	// Ready is how many of those are Synced and Healthy at it.
	Ready int32 `json:"ready" protobuf:"varint,5,opt,name=ready"`
	// Message says what the step waits for, or which Applications are Degraded.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,6,opt,name=message"`
}

// ApplicationSetStatus is what an ApplicationSet last generated.
type ApplicationSetStatus struct {
	// ObservedGeneration is the generation of the spec last generated from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// Conditions: Ready is True when every set of parameters made an Application that is up to
	// date; its reason says what went wrong otherwise (GenerateFailed, TemplateFailed,
	// Forbidden, ApplyFailed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,2,rep,name=conditions"`
	// Applications are the generated Applications, by name, with their sync and health.
	// +optional
	// +listType=atomic
	Applications []ApplicationSetApplicationStatus `json:"applications,omitempty" protobuf:"bytes,3,rep,name=applications"`
	// GitRevision is the commit the git generators read last.
	// +optional
	GitRevision string `json:"gitRevision,omitempty" protobuf:"bytes,4,opt,name=gitRevision"`
	// Steps are where a rolling sync stands, one entry per step of spec.strategy.rollingSync
	// (and a last one, "unmatched", when Applications match no step).
	// +optional
	// +listType=atomic
	Steps []RolloutStepStatus `json:"steps,omitempty" protobuf:"bytes,5,rep,name=steps"`
}

// ApplicationSetApplicationStatus is one generated Application.
type ApplicationSetApplicationStatus struct {
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Cluster is the generated Application's spec.destination.cluster.
	// +optional
	Cluster string `json:"cluster,omitempty" protobuf:"bytes,2,opt,name=cluster"`
	// +optional
	Sync SyncStatusCode `json:"sync,omitempty" protobuf:"bytes,3,opt,name=sync,casttype=SyncStatusCode"`
	// +optional
	Health HealthStatusCode `json:"health,omitempty" protobuf:"bytes,4,opt,name=health,casttype=HealthStatusCode"`
	// Step is the rolling sync step the Application belongs to.
	// +optional
	Step string `json:"step,omitempty" protobuf:"bytes,5,opt,name=step"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationSetList is a list of ApplicationSets.
type ApplicationSetList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items are the ApplicationSets.
	Items []ApplicationSet `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// ApplicationSetConditionRolledOut is True on a set with a rolling sync once every step is
// Synced and Healthy at the set's current spec; otherwise its reason (Progressing, Degraded,
// Paused) and message name the first step that is not, and why.
const ApplicationSetConditionRolledOut = "RolledOut"

// RolloutUnmatchedStep names, in status.steps, the Applications no step's selector matches:
// they are updated last.
const RolloutUnmatchedStep = "unmatched"

// StepName is the name of step i of a rolling sync: its own, or step-N (from 1).
func (s RollingSyncStep) StepName(i int) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("step-%d", i+1)
}
