package gitops

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Application deploys the Kubernetes objects found at one path of a Git repository into the
// cluster Ferry is registered with, and keeps them the way Git describes them.
type Application struct {
	metav1.TypeMeta
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta

	// Spec is what the Application should deploy and how.
	Spec ApplicationSpec
	// Status is what Ferry last observed and did. Only Ferry's own controller writes it.
	// +optional
	Status ApplicationStatus
}

// ApplicationSpec is the desired state of an Application.
type ApplicationSpec struct {
	// Source is the Git repository, revision and path the objects are read from; left empty
	// when spec.sources lists several sources.
	// +optional
	Source ApplicationSource
	// Destination says where objects that name no namespace are deployed.
	// +optional
	Destination ApplicationDestination
	// ServiceAccountName names a ServiceAccount in the Application's namespace. When set, every
	// apply, dry run and prune is made as that ServiceAccount (impersonation), so the Application
	// can deploy only what the ServiceAccount may. Must be a DNS label.
	// +optional
	ServiceAccountName string
	// SyncPolicy says when and how Ferry applies the source: automatically or only on request,
	// how often the source is re-checked, and how failed syncs are retried.
	// +optional
	SyncPolicy SyncPolicy
	// Suspend stops all reconciliation of this Application while true: no fetch, no apply, no
	// prune. Objects already deployed are left as they are.
	// +optional
	Suspend bool
	// IgnoreDifferences lists fields of deployed objects that Ferry neither reports as drift nor
	// overwrites, such as the replicas of a Deployment scaled by an autoscaler.
	// +optional
	// +listType=atomic
	IgnoreDifferences []ResourceIgnoreDifferences
	// DependsOn lists Applications that must be Synced and Healthy at their current revision
	// before this one syncs: by name in this namespace, or with a namespace the writer may get
	// Applications in. Until they are, this one waits (condition Ready=False, reason
	// DependencyNotReady, naming them). A dependency cycle is refused when it is visible.
	// +optional
	// +listType=atomic
	DependsOn []ApplicationReference
	// Decryption decrypts the SOPS-encrypted files the source holds as they are rendered.
	// +optional
	Decryption *Decryption
	// Sources are several sources rendered and applied as one set, instead of spec.source: one
	// inventory, one sync status, status.sourceRevisions and status.sync.revisions holding the
	// revision of each source in this order. A source with a ref and neither path nor chart is
	// rendered not at all: it only lends its files to the Helm value files of the others, as
	// $<ref>/<path>. At most 20.
	// +optional
	// +listType=atomic
	Sources []ApplicationSource
}

// DecryptionProviderSOPS is the provider of spec.decryption: SOPS, with age or PGP keys.
const DecryptionProviderSOPS = "sops"

// Decryption says how to decrypt the encrypted files of a source, in Flux's shape.
type Decryption struct {
	// Provider is the encryption tool; only "sops" is supported.
	Provider string
	// SecretRef names a Secret in the Application's namespace holding the private keys: age
	// identities in keys ending .agekey, armored PGP private keys in keys ending .asc. The
	// writer of the Application must be allowed to get it.
	SecretRef *LocalObjectReference
}

// ApplicationReference names another Application.
type ApplicationReference struct {
	// Name of the Application.
	Name string
	// Namespace of the Application; empty means the namespace of the Application that names it.
	// +optional
	Namespace string
}

// Key is "namespace/name" of the Application r names, as seen from an Application in namespace
// (where a reference without a namespace points).
func (r ApplicationReference) Key(namespace string) string {
	if r.Namespace != "" {
		namespace = r.Namespace
	}
	return types.NamespacedName{Namespace: namespace, Name: r.Name}.String()
}

// ApplicationSource locates the manifests of an Application in Git.
type ApplicationSource struct {
	// RepoURL is the Git repository to read, as https://, http://, ssh:// or scp-like
	// user@host:path. file:// URLs are accepted only when the server runs with
	// --allow-file-repositories. With Chart, it is a Helm repository (https:// or http://,
	// serving index.yaml) or an OCI registry path (oci://registry.example.com/charts).
	RepoURL string
	// Revision is the branch, tag or full 40-character commit SHA to deploy. HEAD, the default,
	// follows the repository's default branch. With Chart, it is the chart's version or a semver
	// range (~1.2, >=1.0 <2); HEAD is the newest stable version. status.sync.revision says
	// which version it resolved to.
	// +optional
	Revision string
	// Path is the directory inside the repository holding the manifests, relative to the
	// repository root, without ".." elements. Empty means the repository root.
	// +optional
	Path string
	// CredentialsRef names a Secret in the Application's namespace holding the credentials for
	// RepoURL: keys username and password, or bearerToken, or sshPrivateKey with knownHosts.
	// For a chart repository: username and password, or bearerToken; tls.crt and tls.key for a
	// client certificate; ca.crt for the CA that signed the repository's certificate.
	// +optional
	CredentialsRef *LocalObjectReference
	// Directory selects the files read when Path holds no kustomization file.
	// +optional
	Directory *DirectorySource
	// Kustomize overrides applied when Path holds a kustomization file.
	// +optional
	Kustomize *KustomizeSource
	// Helm renders the Helm chart at Path (one holding a Chart.yaml is rendered as a chart even
	// without this) as `helm template` would, with these settings. Helm runs no hook itself:
	// pre-install and pre-upgrade hooks become PreSync hooks, post-install and post-upgrade ones
	// PostSync hooks, their weight their sync wave; test hooks are left out.
	// +optional
	Helm *HelmSource
	// Chart is the name of a Helm chart in the repository RepoURL names, rendered as `helm
	// template` would render it (see Helm). Path, Directory and Kustomize do not apply.
	// +optional
	Chart string
	// Ref names this source, in spec.sources only, so that the Helm value files of the other
	// sources can read its files as $<ref>/<path>. A DNS label, unique among the sources.
	// +optional
	Ref string
}

// HelmSource holds the settings of a Helm chart's render.
type HelmSource struct {
	// ReleaseName is .Release.Name; default the Application's name.
	// +optional
	ReleaseName string
	// Namespace is .Release.Namespace; default spec.destination.namespace, else the
	// Application's namespace.
	// +optional
	Namespace string
	// ValueFiles are values files, relative to Path and inside the repository, merged in order
	// over the chart's values.yaml.
	// +optional
	// +listType=atomic
	ValueFiles []string
	// Values is an object merged over the value files.
	// +optional
	Values *runtime.RawExtension
	// Parameters are set last, as `helm template --set name=value` (--set-string with
	// forceString).
	// +optional
	// +listType=atomic
	Parameters []HelmParameter
	// SkipCRDs leaves out the chart's crds/ directory.
	// +optional
	SkipCRDs bool
	// SkipTests is accepted for Argo CD's spec; test hooks are never applied.
	// +optional
	SkipTests bool
	// KubeVersion is .Capabilities.KubeVersion, such as v1.37.2; default the destination
	// cluster's version.
	// +optional
	KubeVersion string
	// APIVersions are added to .Capabilities.APIVersions (group/version, or group/version/Kind).
	// +optional
	// +listType=atomic
	APIVersions []string
	// PassCredentials sends spec.source.credentialsRef's username, password or token to every
	// host a chart or dependency is downloaded from, as `helm --pass-credentials`; by default
	// only the repository's own host gets them.
	// +optional
	PassCredentials bool
}

// HelmParameter is one --set of a chart's render.
type HelmParameter struct {
	// Name is the value's path, as --set writes it: image.tag, servers[0].port.
	Name string
	// Value is parsed as --set does (numbers, booleans), unless ForceString.
	// +optional
	Value string
	// ForceString keeps Value a string, as --set-string.
	// +optional
	ForceString bool
}

// LocalObjectReference names an object in the same namespace as the object that refers to it.
type LocalObjectReference struct {
	// Name of the referenced object.
	Name string
}

// DirectorySource selects plain YAML or JSON manifests in a directory.
type DirectorySource struct {
	// Recurse reads the subdirectories of Path too.
	// +optional
	Recurse bool
	// Include is a glob matched against file names; only matching files are read. Empty means
	// every *.yaml, *.yml and *.json file.
	// +optional
	Include string
	// Exclude is a glob matched against file names; matching files are skipped.
	// +optional
	Exclude string
}

// KustomizeSource holds overrides applied on top of the kustomization found at Path.
type KustomizeSource struct {
	// NamePrefix is prepended to the name of every object.
	// +optional
	NamePrefix string
	// NameSuffix is appended to the name of every object.
	// +optional
	NameSuffix string
	// Images overrides container images, each in the form of `kustomize edit set image`:
	// NAME=NEWNAME:TAG, NAME:TAG or NAME@DIGEST.
	// +optional
	// +listType=atomic
	Images []string
	// Patches are strategic-merge or JSON 6902 patches applied to the rendered objects.
	// +optional
	// +listType=atomic
	Patches []KustomizePatch
	// Components are paths, relative to Path, of kustomize components to include.
	// +optional
	// +listType=atomic
	Components []string
}

// KustomizePatch is one patch and the objects it applies to.
type KustomizePatch struct {
	// Patch is the text of a strategic-merge patch or a JSON 6902 patch.
	Patch string
	// Target selects the objects to patch. Empty means the objects the patch itself names.
	// +optional
	Target *KustomizeSelector
}

// KustomizeSelector selects rendered objects by identity, labels or annotations.
type KustomizeSelector struct {
	// Group of the objects to select.
	// +optional
	Group string
	// Version of the objects to select.
	// +optional
	Version string
	// Kind of the objects to select.
	// +optional
	Kind string
	// Name of the objects to select; a regular expression.
	// +optional
	Name string
	// Namespace of the objects to select; a regular expression.
	// +optional
	Namespace string
	// LabelSelector selects objects by their labels.
	// +optional
	LabelSelector string
	// AnnotationSelector selects objects by their annotations.
	// +optional
	AnnotationSelector string
}

// ApplicationDestination says where an Application's objects go.
type ApplicationDestination struct {
	// Namespace is given to every namespaced object that names no namespace itself. Empty means
	// the Application's own namespace.
	// +optional
	Namespace string
	// Cluster names the Cluster the objects are deployed into. Empty means the cluster Ferry
	// runs in. Every request is made there as the Application's ServiceAccount: the same name
	// in the same namespace on that cluster. Writing it requires the verb "use" on
	// clusters/<name>.
	// +optional
	Cluster string
}

// SyncPolicy controls when and how an Application is applied.
type SyncPolicy struct {
	// Automated, when set, makes Ferry apply every new commit and every change of the spec by
	// itself. When absent, Ferry only reports OutOfSync and applies on a POST to the
	// applications/sync subresource.
	// +optional
	Automated *AutomatedSyncPolicy
	// Interval is how often the source is re-checked for new commits, between 10s and 24h.
	// Drift of deployed objects is watched, not polled, so it is seen at once whatever the
	// interval. Defaults to 3m.
	// +optional
	Interval *metav1.Duration
	// Retry says how often and how fast a failed sync is retried.
	// +optional
	Retry *RetryStrategy
	// CreateNamespace creates the destination namespace when it does not exist.
	// +optional
	CreateNamespace bool
	// WaveTimeout bounds how long a sync waits for the objects of one sync wave (annotation
	// gitops.ferry.dev/sync-wave) to become Healthy before it applies the next wave; past it the
	// sync fails naming the object that is not. Between 1s and 1h; defaults to 5m.
	// +optional
	WaveTimeout *metav1.Duration
}

// AutomatedSyncPolicy tunes automated syncs.
type AutomatedSyncPolicy struct {
	// Prune deletes objects that Ferry applied earlier and that are no longer in Git.
	// +optional
	Prune bool
	// SelfHeal re-applies Git's version when a deployed object is changed by hand.
	// +optional
	SelfHeal bool
}

// RetryStrategy is how a failed sync is retried.
type RetryStrategy struct {
	// Limit is the number of retries after a failed sync before Ferry waits for the next change
	// or interval; 0 disables retries. Defaults to 5.
	// +optional
	Limit *int32
	// Backoff is the delay between retries.
	// +optional
	Backoff *Backoff
}

// Backoff is an exponential delay: Duration, then Duration*Factor, and so on up to MaxDuration.
type Backoff struct {
	// Duration is the first delay, at least 1s. Defaults to 5s.
	// +optional
	Duration *metav1.Duration
	// Factor multiplies the delay after each retry, from 1 to 10. Defaults to 2.
	// +optional
	Factor *int32
	// MaxDuration caps the delay, at least Duration. Defaults to 3m.
	// +optional
	MaxDuration *metav1.Duration
}

// ResourceIgnoreDifferences names fields of deployed objects that Ferry ignores.
type ResourceIgnoreDifferences struct {
	// Group of the objects; empty for the core group.
	// +optional
	Group string
	// Kind of the objects, such as Deployment. Required.
	Kind string
	// Name of one object; empty means every object of Kind.
	// +optional
	Name string
	// Namespace of the objects; empty means every namespace.
	// +optional
	Namespace string
	// JSONPointers are RFC 6901 pointers to the ignored fields, such as /spec/replicas.
	// +listType=atomic
	JSONPointers []string
}

// SyncStatusCode says whether the deployed objects match Git.
type SyncStatusCode string

const (
	// SyncStatusSynced means every object matches the source revision.
	SyncStatusSynced SyncStatusCode = "Synced"
	// SyncStatusOutOfSync means at least one object differs from the source revision.
	SyncStatusOutOfSync SyncStatusCode = "OutOfSync"
	// SyncStatusUnknown means Ferry could not compare yet.
	SyncStatusUnknown SyncStatusCode = "Unknown"
	// SyncStatusSharedResource marks an object another Application manages (its tracking
	// annotation names that Application): this one never applies nor prunes it.
	SyncStatusSharedResource SyncStatusCode = "SharedResource"
)

// HealthStatusCode is the health of an object or of a whole Application.
type HealthStatusCode string

const (
	HealthHealthy     HealthStatusCode = "Healthy"
	HealthProgressing HealthStatusCode = "Progressing"
	HealthDegraded    HealthStatusCode = "Degraded"
	HealthSuspended   HealthStatusCode = "Suspended"
	HealthMissing     HealthStatusCode = "Missing"
	HealthUnknown     HealthStatusCode = "Unknown"
)

// OperationPhase is the stage of a requested sync operation.
type OperationPhase string

const (
	// OperationPending means the operation is recorded and waits for the controller.
	OperationPending OperationPhase = "Pending"
	// OperationRunning means the controller is executing the operation.
	OperationRunning OperationPhase = "Running"
	// OperationSucceeded means the operation finished and applied what it was asked to.
	OperationSucceeded OperationPhase = "Succeeded"
	// OperationFailed means the operation finished with an error, given in its message.
	OperationFailed OperationPhase = "Failed"
)

// ApplicationStatus is what Ferry observed and did for an Application.
type ApplicationStatus struct {
	// ObservedGeneration is the metadata.generation this status describes.
	// +optional
	ObservedGeneration int64
	// Conditions are Ready, Reconciling, Stalled, Synced and Healthy, in the Kubernetes
	// convention, so `kubectl wait --for=condition=Ready` works.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition
	// SourceRevision is the commit SHA that spec.source.revision resolved to at the last fetch.
	// +optional
	SourceRevision string
	// SourceRevisions are, for spec.sources, what the revision of each source resolved to at the
	// last fetch, in the order of spec.sources; sourceRevision joins them with spaces.
	// +optional
	// +listType=atomic
	SourceRevisions []string
	// Sync says whether the deployed objects match the source.
	// +optional
	Sync SyncStatus
	// Health is the aggregated health of the deployed objects: the worst of them.
	// +optional
	Health HealthStatus
	// Resources is the inventory: every object the Application manages, with its sync and
	// health status. Ferry prunes from this list only.
	// +optional
	// +listType=atomic
	Resources []ResourceStatus
	// Operation is the sync requested through the applications/sync subresource, while it is
	// pending or running, and the last one once it has finished.
	// +optional
	Operation *Operation
	// History holds the most recent finished operations, newest first, at most 10.
	// +optional
	// +listType=atomic
	History []OperationRecord
	// ReconciledAt is when the controller last finished reconciling this Application.
	// +optional
	ReconciledAt *metav1.Time
	// Rollback, while set, holds the Application at the revision a rollback synced to: the sync
	// policy does not follow Git while Git still names the revision rolled away from. A
	// requested sync, or Git naming another revision, ends it.
	// +optional
	Rollback *RollbackStatus
	// LastSelfHeal is the last time selfHeal put objects changed in the cluster back to Git's
	// version: a drift that is repaired at once never shows as OutOfSync, and this is its trace.
	// +optional
	LastSelfHeal *SelfHealRecord
	// Refresh is the last refresh requested through the applications/refresh subresource, and
	// whether the controller has handled it.
	// +optional
	Refresh *RefreshStatus
}

// RefreshStatus is a request to list the source's branches and tags now instead of at the
// interval, and how far the controller got with it.
type RefreshStatus struct {
	// RequestedAt is when the last refresh was requested, to the microsecond: the controller
	// resolves the revision from a listing of the remote that started no earlier, so a commit
	// pushed before the request is seen.
	RequestedAt metav1.MicroTime
	// RequestedBy is the authenticated user who requested it, as kube-apiserver reported it.
	// +optional
	RequestedBy string
	// Reason is the requester's free text, such as the push that caused it.
	// +optional
	Reason string
	// HandledAt is the requestedAt of the last refresh the controller has handled; the refresh
	// is pending while it is older than requestedAt.
	// +optional
	HandledAt *metav1.MicroTime
}

// SyncStatus is the comparison of the deployed objects with Git.
type SyncStatus struct {
	// Status is Synced, OutOfSync or Unknown.
	// +optional
	Status SyncStatusCode
	// Revision is the commit SHA last applied.
	// +optional
	Revision string
	// Revisions are, for spec.sources, the revision of each source last applied, in the order of
	// spec.sources; revision joins them with spaces.
	// +optional
	// +listType=atomic
	Revisions []string
}

// HealthStatus is a health code with a human-readable reason.
type HealthStatus struct {
	// Status is Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
	// +optional
	Status HealthStatusCode
	// Message explains the status, when there is more to say.
	// +optional
	Message string
}

// ResourceStatus is one managed object of the inventory.
type ResourceStatus struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string
	// Version of the object's API.
	Version string
	// Kind of the object.
	Kind string
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string
	// Name of the object.
	Name string
	// Status says whether the live object matches Git.
	// +optional
	Status SyncStatusCode
	// Health of the live object.
	// +optional
	Health HealthStatusCode
}

// SyncResource names one object a sync operation is limited to.
type SyncResource struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string
	// Kind of the object.
	Kind string
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string
	// Name of the object.
	Name string
}

// RequestedBy is the authenticated identity that requested an operation, as kube-apiserver
// reported it. It is never taken from the request body.
type RequestedBy struct {
	// Username of the requester.
	Username string
	// UID of the requester, when the authenticator gives one.
	// +optional
	UID string
	// Groups of the requester.
	// +optional
	// +listType=atomic
	Groups []string
}

// Operation is a sync requested through the applications/sync subresource.
type Operation struct {
	// ID identifies the operation; it is generated by the server.
	ID string
	// Phase is Pending, Running, Succeeded or Failed.
	Phase OperationPhase
	// Revision to sync to; empty means spec.source.revision.
	// +optional
	Revision string
	// Prune deletes objects no longer in Git during this operation, even when the sync policy
	// does not prune.
	// +optional
	Prune bool
	// DryRun runs the operation as a server-side dry run: nothing is changed in the cluster.
	// +optional
	DryRun bool
	// Resources limits the operation to these objects; empty means all.
	// +optional
	// +listType=atomic
	Resources []SyncResource
	// RequestedBy is who asked for the operation.
	RequestedBy RequestedBy
	// RequestedAt is when the operation was requested.
	RequestedAt metav1.Time
	// StartedAt is when the controller started the operation.
	// +optional
	StartedAt *metav1.Time
	// FinishedAt is when the operation finished.
	// +optional
	FinishedAt *metav1.Time
	// SyncedRevision is the commit SHA the operation applied.
	// +optional
	SyncedRevision string
	// Message says what happened, or why the operation failed.
	// +optional
	Message string
	// Steps are the sync waves and hooks of the operation, in the order they run; empty when
	// everything is applied at once (no object names a wave).
	// +optional
	// +listType=atomic
	Steps []OperationStep
}

// OperationStepType says what an operation step is.
type OperationStepType string

const (
	// OperationStepWave applies the objects of one sync wave and waits until they are Healthy.
	OperationStepWave OperationStepType = "Wave"
	// OperationStepHook runs one hook object (a Job, typically) and waits until it completes.
	OperationStepHook OperationStepType = "Hook"
)

// OperationStep is one sync wave or one hook of an operation.
type OperationStep struct {
	// Type is Wave or Hook.
	Type OperationStepType
	// Wave is the sync wave the step applies, or that the hook runs in.
	Wave int32
	// Hook is the hook's type (PreSync, Sync, PostSync or SyncFail), for a Hook step.
	// +optional
	Hook string
	// Kind of the hook object, for a Hook step.
	// +optional
	Kind string
	// Name of the hook object, for a Hook step.
	// +optional
	Name string
	// Objects is how many objects a Wave step applies.
	// +optional
	Objects int32
	// Phase is Running, Succeeded or Failed.
	Phase OperationPhase
	// Message says what the step waits for, or why it failed.
	// +optional
	Message string
}

// OperationRecord is a finished operation kept in the history.
type OperationRecord struct {
	// ID of the operation.
	ID string
	// Phase the operation finished in: Succeeded or Failed.
	Phase OperationPhase
	// Revision that was requested.
	// +optional
	Revision string
	// SyncedRevision is the commit SHA that was applied.
	// +optional
	SyncedRevision string
	// Prune says whether the operation pruned.
	// +optional
	Prune bool
	// DryRun says whether the operation was a dry run.
	// +optional
	DryRun bool
	// RequestedBy is the username of the requester.
	// +optional
	RequestedBy string
	// RequestedAt is when the operation was requested.
	// +optional
	RequestedAt *metav1.Time
	// FinishedAt is when the operation finished.
	// +optional
	FinishedAt *metav1.Time
	// Message is the operation's final message, truncated.
	// +optional
	Message string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationList is a list of Applications.
type ApplicationList struct {
	metav1.TypeMeta
	// Standard list metadata.
	// +optional
	metav1.ListMeta
	// Items are the Applications.
	Items []Application
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationSync is the body of a POST to applications/{name}/sync: a request to sync the
// Application now. The response carries the recorded operation's id and phase.
type ApplicationSync struct {
	metav1.TypeMeta
	// Standard object metadata; name, when set, must equal the Application's name.
	// +optional
	metav1.ObjectMeta

	// Spec is what to sync.
	// +optional
	Spec ApplicationSyncSpec
	// Status is filled in by the server: the operation it recorded.
	// +optional
	Status ApplicationSyncStatus
}

// ApplicationSyncSpec is what a sync request asks for.
type ApplicationSyncSpec struct {
	// Revision to sync to: a branch, tag or full commit SHA. Empty means spec.source.revision.
	// +optional
	Revision string
	// Prune deletes objects no longer in Git, even when the sync policy does not prune.
	// +optional
	Prune bool
	// DryRun asks the controller to run the sync as a server-side dry run that changes nothing.
	// +optional
	DryRun bool
	// Resources limits the sync to these objects; empty means all.
	// +optional
	// +listType=atomic
	Resources []SyncResource
	// OverrideSyncWindows runs the sync while a SyncWindow blocks syncs. Only users allowed the
	// verb override on syncwindows in the namespace may set it. (A body field, not a query
	// parameter: a POST to a subresource hands its handler the body alone.)
	// +optional
	OverrideSyncWindows bool
}

// ApplicationSyncStatus reports the operation a sync request recorded.
type ApplicationSyncStatus struct {
	// OperationID is the id of the recorded operation, as in status.operation.id.
	// +optional
	OperationID string
	// Phase of the operation when the request returned: Pending.
	// +optional
	Phase OperationPhase
	// ApplicationResourceVersion is the Application's resourceVersion after the operation was
	// recorded, to watch from.
	// +optional
	ApplicationResourceVersion string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationRefresh is the body of a POST to applications/{name}/refresh: a request to look for
// new commits now instead of at the interval. An automated Application then syncs a new commit;
// a manual one reports OutOfSync. The response says when the refresh was recorded.
type ApplicationRefresh struct {
	metav1.TypeMeta
	// Standard object metadata; name, when set, must equal the Application's name.
	// +optional
	metav1.ObjectMeta

	// Spec says why.
	// +optional
	Spec ApplicationRefreshSpec
	// Status is filled in by the server: the refresh it recorded.
	// +optional
	Status ApplicationRefreshStatus
}

// ApplicationRefreshSpec is what a refresh request says.
type ApplicationRefreshSpec struct {
	// Reason is free text recorded in status.refresh.reason, at most 256 characters.
	// +optional
	Reason string
}

// ApplicationRefreshStatus reports the refresh a request recorded.
type ApplicationRefreshStatus struct {
	// RequestedAt is the time recorded in the Application's status.refresh.requestedAt; the
	// refresh is handled once status.refresh.handledAt reaches it.
	// +optional
	RequestedAt metav1.MicroTime
	// ApplicationResourceVersion is the Application's resourceVersion after the refresh was
	// recorded, to watch from.
	// +optional
	ApplicationResourceVersion string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationHealth is the answer of GET applications/{name}/health: the health of every object
// the Application manages, read live from the cluster when asked rather than taken from status.
type ApplicationHealth struct {
	metav1.TypeMeta
	// Name, namespace, uid and resourceVersion of the Application.
	// +optional
	metav1.ObjectMeta

	// Status is the aggregated health: the worst of the objects'.
	// +optional
	Status HealthStatusCode
	// Message explains the aggregated health, naming the worst object.
	// +optional
	Message string
	// Resources is the health of each managed object.
	// +optional
	// +listType=atomic
	Resources []ResourceHealth
}

// ResourceHealth is the live health of one managed object.
type ResourceHealth struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string
	// Version of the object's API.
	Version string
	// Kind of the object.
	Kind string
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string
	// Name of the object.
	Name string
	// Status is Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
	// +optional
	Status HealthStatusCode
	// Message explains the status.
	// +optional
	Message string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationManifests is the answer of GET applications/{name}/manifests: the objects the
// Application's path renders to at a revision, as Ferry would apply them. Secret values are
// masked.
type ApplicationManifests struct {
	metav1.TypeMeta
	// Name, namespace, uid and resourceVersion of the Application.
	// +optional
	metav1.ObjectMeta

	// Revision is the commit SHA that was rendered.
	// +optional
	Revision string
	// Objects are the rendered objects, with namespaces defaulted and Ferry's tracking metadata
	// set. The data and stringData values of Secrets are replaced by a mask.
	// +optional
	// +listType=atomic
	Objects []runtime.RawExtension
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationManifestsOptions are the query parameters of GET applications/{name}/manifests.
type ApplicationManifestsOptions struct {
	metav1.TypeMeta

	// Revision to render: a branch, tag or full commit SHA. Empty means spec.source.revision.
	// +optional
	Revision string
}

// DiffAction is what a sync would do with one object.
type DiffAction string

const (
	DiffCreate DiffAction = "Create"
	DiffUpdate DiffAction = "Update"
	DiffDelete DiffAction = "Delete"
	DiffNone   DiffAction = "None"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationDiff is the answer of GET applications/{name}/diff: what a sync to a revision would
// change, computed by a server-side apply dry run as the Application's identity and compared with
// the live objects. Secret values are masked.
type ApplicationDiff struct {
	metav1.TypeMeta
	// Name, namespace, uid and resourceVersion of the Application.
	// +optional
	metav1.ObjectMeta

	// Revision is the commit SHA compared.
	// +optional
	Revision string
	// Summary counts the objects by action.
	// +optional
	Summary DiffSummary
	// Items are the objects, with what a sync would do and a unified diff of their normalised
	// YAML (live before, desired after).
	// +optional
	// +listType=atomic
	Items []ResourceDiff
}

// DiffSummary counts objects by action.
type DiffSummary struct {
	// Create counts objects a sync would create.
	// +optional
	Create int32
	// Update counts objects a sync would change.
	// +optional
	Update int32
	// Delete counts objects a pruning sync would delete.
	// +optional
	Delete int32
	// None counts objects already as Git says.
	// +optional
	None int32
}

// ResourceDiff is what a sync would do with one object.
type ResourceDiff struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string
	// Version of the object's API.
	Version string
	// Kind of the object.
	Kind string
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string
	// Name of the object.
	Name string
	// Action is Create, Update, Delete or None.
	Action DiffAction
	// Diff is a unified diff of the normalised YAML, empty for None.
	// +optional
	Diff string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationDiffOptions are the query parameters of GET applications/{name}/diff.
type ApplicationDiffOptions struct {
	metav1.TypeMeta

	// Revision to compare: a branch, tag or full commit SHA. Empty means spec.source.revision.
	// +optional
	Revision string
}

// ValuesOnly says whether a source of spec.sources only lends its files to value files: it has
// a ref and neither a path nor a chart to render.
func ValuesOnly(src *ApplicationSource) bool {
	return src.Ref != "" && src.Path == "" && src.Chart == ""
}

// PrimarySource is the source that spec.source.repoURL field selectors, table columns and other
// one-source views show: spec.source, or the first source of spec.sources that is rendered.
func PrimarySource(spec *ApplicationSpec) *ApplicationSource {
	for i := range spec.Sources {
		if !ValuesOnly(&spec.Sources[i]) {
			return &spec.Sources[i]
		}
	}
	return &spec.Source
}
