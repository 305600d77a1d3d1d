package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
)

// +genclient
// +genclient:method=Sync,verb=create,subresource=sync,input=ApplicationSync,result=ApplicationSync
// +genclient:method=Refresh,verb=create,subresource=refresh,input=ApplicationRefresh,result=ApplicationRefresh
// +genclient:method=Rollback,verb=create,subresource=rollback,input=ApplicationRollback,result=ApplicationRollback
// +genclient:method=GetHealth,verb=get,subresource=health,result=ApplicationHealth
// +genclient:method=GetManifests,verb=get,subresource=manifests,result=ApplicationManifests
// +genclient:method=GetDiff,verb=get,subresource=diff,result=ApplicationDiff
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Application deploys the Kubernetes objects found at one path of a Git repository into the
// cluster Ferry is registered with, and keeps them the way Git describes them.
type Application struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is what the Application should deploy and how.
	Spec ApplicationSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Status is what Ferry last observed and did. Only Ferry's own controller writes it.
	// +optional
	Status ApplicationStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ApplicationSpec is the desired state of an Application.
type ApplicationSpec struct {
	// Source is the Git repository, revision and path the objects are read from; left empty
	// when spec.sources lists several sources.
	// +optional
	Source ApplicationSource `json:"source,omitempty" protobuf:"bytes,1,opt,name=source"`
	// Destination says where objects that name no namespace are deployed.
	// +optional
	Destination ApplicationDestination `json:"destination,omitempty" protobuf:"bytes,2,opt,name=destination"`
	// ServiceAccountName names a ServiceAccount in the Application's namespace. When set, every
	// apply, dry run and prune is made as that ServiceAccount (impersonation), so the Application
	// can deploy only what the ServiceAccount may. Must be a DNS label.
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty" protobuf:"bytes,3,opt,name=serviceAccountName"`
	// SyncPolicy says when and how Ferry applies the source: automatically or only on request,
	// how often the source is re-checked, and how failed syncs are retried.
	// +optional
	SyncPolicy SyncPolicy `json:"syncPolicy,omitempty" protobuf:"bytes,4,opt,name=syncPolicy"`
	// Suspend stops all reconciliation of this Application while true: no fetch, no apply, no
	// prune. Objects already deployed are left as they are.
	// +optional
	Suspend bool `json:"suspend,omitempty" protobuf:"varint,5,opt,name=suspend"`
	// IgnoreDifferences lists fields of deployed objects that Ferry neither reports as drift nor
	// overwrites, such as the replicas of a Deployment scaled by an autoscaler.
	// +optional
	// +listType=atomic
	IgnoreDifferences []ResourceIgnoreDifferences `json:"ignoreDifferences,omitempty" protobuf:"bytes,6,rep,name=ignoreDifferences"`
	// DependsOn lists Applications that must be Synced and Healthy at their current revision
	// before this one syncs: by name in this namespace, or with a namespace the writer may get
	// Applications in. Until they are, this one waits (condition Ready=False, reason
	// DependencyNotReady, naming them). A dependency cycle is refused when it is visible.
	// +optional
	// +listType=atomic
	DependsOn []ApplicationReference `json:"dependsOn,omitempty" protobuf:"bytes,7,rep,name=dependsOn"`
	// Decryption decrypts the SOPS-encrypted files the source holds as they are rendered:
	// manifests, kustomize resources and secretGenerator files, Helm values files. Decrypted
	// values go only into Secrets, which /manifests and /diff mask.
	// +optional
	Decryption *Decryption `json:"decryption,omitempty" protobuf:"bytes,8,opt,name=decryption"`
	// Sources are several sources rendered and applied as one set, instead of spec.source: one
	// inventory, one sync status, status.sourceRevisions and status.sync.revisions holding the
	// revision of each source in this order. A source with a ref and neither path nor chart is
	// rendered not at all: it only lends its files to the Helm value files of the others, as
	// $<ref>/<path>. At most 20.
	// +optional
	// +listType=atomic
	Sources []ApplicationSource `json:"sources,omitempty" protobuf:"bytes,9,rep,name=sources"`
}

// DecryptionProviderSOPS is the provider of spec.decryption: SOPS, with age or PGP keys.
const DecryptionProviderSOPS = "sops"

// Decryption says how to decrypt the encrypted files of a source, in Flux's shape.
type Decryption struct {
	// Provider is the encryption tool; only "sops" is supported.
	Provider string `json:"provider" protobuf:"bytes,1,opt,name=provider"`
	// SecretRef names a Secret in the Application's namespace holding the private keys: age
	// identities in keys ending .agekey, armored PGP private keys in keys ending .asc. The
	// writer of the Application must be allowed to get it.
	SecretRef *LocalObjectReference `json:"secretRef" protobuf:"bytes,2,opt,name=secretRef"`
}

// ApplicationReference names another Application.
type ApplicationReference struct {
	// Name of the Application.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Namespace of the Application; empty means the namespace of the Application that names it.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,2,opt,name=namespace"`
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
	RepoURL string `json:"repoURL" protobuf:"bytes,1,opt,name=repoURL"`
	// Revision is the branch, tag or full 40-character commit SHA to deploy. HEAD, the default,
	// follows the repository's default branch. With Chart, it is the chart's version or a semver
	// range (~1.2, >=1.0 <2); HEAD is the newest stable version. status.sync.revision says
	// which version it resolved to.
	// +optional
	// +default="HEAD"
	Revision string `json:"revision,omitempty" protobuf:"bytes,2,opt,name=revision"`
	// Path is the directory inside the repository holding the manifests, relative to the
	// repository root, without ".." elements. Empty means the repository root.
	// +optional
	Path string `json:"path,omitempty" protobuf:"bytes,3,opt,name=path"`
	// CredentialsRef names a Secret in the Application's namespace holding the credentials for
	// RepoURL: keys username and password, or bearerToken, or sshPrivateKey with knownHosts.
	// For a chart repository: username and password, or bearerToken; tls.crt and tls.key for a
	// client certificate; ca.crt for the CA that signed the repository's certificate.
	// +optional
	CredentialsRef *LocalObjectReference `json:"credentialsRef,omitempty" protobuf:"bytes,4,opt,name=credentialsRef"`
	// Directory selects the files read when Path holds no kustomization file.
	// +optional
	Directory *DirectorySource `json:"directory,omitempty" protobuf:"bytes,5,opt,name=directory"`
	// Kustomize overrides applied when Path holds a kustomization file.
	// +optional
	Kustomize *KustomizeSource `json:"kustomize,omitempty" protobuf:"bytes,6,opt,name=kustomize"`
	// Helm renders the Helm chart at Path (one holding a Chart.yaml is rendered as a chart even
	// without this) as `helm template` would, with these settings. Helm runs no hook itself:
	// pre-install and pre-upgrade hooks become PreSync hooks, post-install and post-upgrade ones
	// PostSync hooks, their weight their sync wave; test hooks are left out.
	// +optional
	Helm *HelmSource `json:"helm,omitempty" protobuf:"bytes,7,opt,name=helm"`
	// Chart is the name of a Helm chart in the repository RepoURL names, rendered as `helm
	// template` would render it (see Helm). Path, Directory and Kustomize do not apply.
	// +optional
	Chart string `json:"chart,omitempty" protobuf:"bytes,8,opt,name=chart"`
	// Ref names this source, in spec.sources only, so that the Helm value files of the other
	// sources can read its files as $<ref>/<path>. A DNS label, unique among the sources.
	// +optional
	Ref string `json:"ref,omitempty" protobuf:"bytes,9,opt,name=ref"`
}

// HelmSource holds the settings of a Helm chart's render.
type HelmSource struct {
	// ReleaseName is .Release.Name; default the Application's name.
	// +optional
	ReleaseName string `json:"releaseName,omitempty" protobuf:"bytes,1,opt,name=releaseName"`
	// Namespace is .Release.Namespace; default spec.destination.namespace, else the
	// Application's namespace.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,2,opt,name=namespace"`
	// ValueFiles are values files, relative to Path and inside the repository, merged in order
	// over the chart's values.yaml.
	// +optional
	// +listType=atomic
	ValueFiles []string `json:"valueFiles,omitempty" protobuf:"bytes,3,rep,name=valueFiles"`
	// Values is an object merged over the value files.
	// +optional
	Values *runtime.RawExtension `json:"values,omitempty" protobuf:"bytes,4,opt,name=values"`
	// Parameters are set last, as `helm template --set name=value` (--set-string with
	// forceString).
	// +optional
	// +listType=atomic
	Parameters []HelmParameter `json:"parameters,omitempty" protobuf:"bytes,5,rep,name=parameters"`
	// SkipCRDs leaves out the chart's crds/ directory.
	// +optional
	SkipCRDs bool `json:"skipCrds,omitempty" protobuf:"varint,6,opt,name=skipCrds"`
	// SkipTests is accepted for Argo CD's spec; test hooks are never applied.
	// +optional
	SkipTests bool `json:"skipTests,omitempty" protobuf:"varint,7,opt,name=skipTests"`
	// KubeVersion is .Capabilities.KubeVersion, such as v1.37.2; default the destination
	// cluster's version.
	// +optional
	KubeVersion string `json:"kubeVersion,omitempty" protobuf:"bytes,8,opt,name=kubeVersion"`
	// APIVersions are added to .Capabilities.APIVersions (group/version, or group/version/Kind).
	// +optional
	// +listType=atomic
	APIVersions []string `json:"apiVersions,omitempty" protobuf:"bytes,9,rep,name=apiVersions"`
	// PassCredentials sends spec.source.credentialsRef's username, password or token to every
	// host a chart or dependency is downloaded from, as `helm --pass-credentials`; by default
	// only the repository's own host gets them.
	// +optional
	PassCredentials bool `json:"passCredentials,omitempty" protobuf:"varint,10,opt,name=passCredentials"`
}

// HelmParameter is one --set of a chart's render.
type HelmParameter struct {
	// Name is the value's path, as --set writes it: image.tag, servers[0].port.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
	// Value is parsed as --set does (numbers, booleans), unless ForceString.
	// +optional
	Value string `json:"value,omitempty" protobuf:"bytes,2,opt,name=value"`
	// ForceString keeps Value a string, as --set-string.
	// +optional
	ForceString bool `json:"forceString,omitempty" protobuf:"varint,3,opt,name=forceString"`
}

// LocalObjectReference names an object in the same namespace as the object that refers to it.
type LocalObjectReference struct {
	// Name of the referenced object.
	Name string `json:"name" protobuf:"bytes,1,opt,name=name"`
}

// DirectorySource selects plain YAML or JSON manifests in a directory.
type DirectorySource struct {
	// Recurse reads the subdirectories of Path too.
	// +optional
	Recurse bool `json:"recurse,omitempty" protobuf:"varint,1,opt,name=recurse"`
	// Include is a glob matched against file names; only matching files are read. Empty means
	// every *.yaml, *.yml and *.json file.
	// +optional
	Include string `json:"include,omitempty" protobuf:"bytes,2,opt,name=include"`
	// Exclude is a glob matched against file names; matching files are skipped.
	// +optional
	Exclude string `json:"exclude,omitempty" protobuf:"bytes,3,opt,name=exclude"`
}

// KustomizeSource holds overrides applied on top of the kustomization found at Path.
type KustomizeSource struct {
	// NamePrefix is prepended to the name of every object.
	// +optional
	NamePrefix string `json:"namePrefix,omitempty" protobuf:"bytes,1,opt,name=namePrefix"`
	// NameSuffix is appended to the name of every object.
	// +optional
	NameSuffix string `json:"nameSuffix,omitempty" protobuf:"bytes,2,opt,name=nameSuffix"`
	// Images overrides container images, each in the form of `kustomize edit set image`:
	// NAME=NEWNAME:TAG, NAME:TAG or NAME@DIGEST.
	// +optional
	// +listType=atomic
	Images []string `json:"images,omitempty" protobuf:"bytes,3,rep,name=images"`
	// Patches are strategic-merge or JSON 6902 patches applied to the rendered objects.
	// +optional
	// +listType=atomic
	Patches []KustomizePatch `json:"patches,omitempty" protobuf:"bytes,4,rep,name=patches"`
	// Components are paths, relative to Path, of kustomize components to include.
	// +optional
	// +listType=atomic
	Components []string `json:"components,omitempty" protobuf:"bytes,5,rep,name=components"`
}

// KustomizePatch is one patch and the objects it applies to.
type KustomizePatch struct {
	// Patch is the text of a strategic-merge patch or a JSON 6902 patch.
	Patch string `json:"patch" protobuf:"bytes,1,opt,name=patch"`
	// Target selects the objects to patch. Empty means the objects the patch itself names.
	// +optional
	Target *KustomizeSelector `json:"target,omitempty" protobuf:"bytes,2,opt,name=target"`
}

// KustomizeSelector selects rendered objects by identity, labels or annotations.
type KustomizeSelector struct {
	// Group of the objects to select.
	// +optional
	Group string `json:"group,omitempty" protobuf:"bytes,1,opt,name=group"`
	// Version of the objects to select.
	// +optional
	Version string `json:"version,omitempty" protobuf:"bytes,2,opt,name=version"`
	// Kind of the objects to select.
	// +optional
	Kind string `json:"kind,omitempty" protobuf:"bytes,3,opt,name=kind"`
	// Name of the objects to select; a regular expression.
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,4,opt,name=name"`
	// Namespace of the objects to select; a regular expression.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,5,opt,name=namespace"`
	// LabelSelector selects objects by their labels.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty" protobuf:"bytes,6,opt,name=labelSelector"`
	// AnnotationSelector selects objects by their annotations.
	// +optional
	AnnotationSelector string `json:"annotationSelector,omitempty" protobuf:"bytes,7,opt,name=annotationSelector"`
}

// ApplicationDestination says where an Application's objects go.
type ApplicationDestination struct {
	// Namespace is given to every namespaced object that names no namespace itself. Empty means
	// the Application's own namespace.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,1,opt,name=namespace"`
	// Cluster names the Cluster the objects are deployed into. Empty means the cluster Ferry
	// runs in. Every request is made there as the Application's ServiceAccount: the same name
	// in the same namespace on that cluster. Writing it requires the verb "use" on
	// clusters/<name>.
	// +optional
	Cluster string `json:"cluster,omitempty" protobuf:"bytes,2,opt,name=cluster"`
}

// SyncPolicy controls when and how an Application is applied.
type SyncPolicy struct {
	// Automated, when set, makes Ferry apply every new commit and every change of the spec by
	// itself. When absent, Ferry only reports OutOfSync and applies on a POST to the
	// applications/sync subresource.
	// +optional
	Automated *AutomatedSyncPolicy `json:"automated,omitempty" protobuf:"bytes,1,opt,name=automated"`
	// Interval is how often the source is re-checked for new commits, between 10s and 24h.
	// Drift of deployed objects is watched, not polled, so it is seen at once whatever the
	// interval. Defaults to 3m.
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty" protobuf:"bytes,2,opt,name=interval"`
	// Retry says how often and how fast a failed sync is retried.
	// +optional
	Retry *RetryStrategy `json:"retry,omitempty" protobuf:"bytes,3,opt,name=retry"`
	// CreateNamespace creates the destination namespace when it does not exist.
	// +optional
	CreateNamespace bool `json:"createNamespace,omitempty" protobuf:"varint,4,opt,name=createNamespace"`
	// WaveTimeout bounds how long a sync waits for the objects of one sync wave (annotation
	// gitops.ferry.dev/sync-wave) to become Healthy before it applies the next wave; past it the
	// sync fails naming the object that is not. Between 1s and 1h; defaults to 5m.
	// +optional
	WaveTimeout *metav1.Duration `json:"waveTimeout,omitempty" protobuf:"bytes,5,opt,name=waveTimeout"`
}

// AutomatedSyncPolicy tunes automated syncs.
type AutomatedSyncPolicy struct {
	// Prune deletes objects that Ferry applied earlier and that are no longer in Git.
	// +optional
	Prune bool `json:"prune,omitempty" protobuf:"varint,1,opt,name=prune"`
	// SelfHeal re-applies Git's version when a deployed object is changed by hand.
	// +optional
	SelfHeal bool `json:"selfHeal,omitempty" protobuf:"varint,2,opt,name=selfHeal"`
}

// RetryStrategy is how a failed sync is retried.
type RetryStrategy struct {
	// Limit is the number of retries after a failed sync before Ferry waits for the next change
	// or interval; 0 disables retries. Defaults to 5.
	// +optional
	Limit *int32 `json:"limit,omitempty" protobuf:"varint,1,opt,name=limit"`
	// Backoff is the delay between retries.
	// +optional
	Backoff *Backoff `json:"backoff,omitempty" protobuf:"bytes,2,opt,name=backoff"`
}

// Backoff is an exponential delay: Duration, then Duration*Factor, and so on up to MaxDuration.
type Backoff struct {
	// Duration is the first delay, at least 1s. Defaults to 5s.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty" protobuf:"bytes,1,opt,name=duration"`
	// Factor multiplies the delay after each retry, from 1 to 10. Defaults to 2.
	// +optional
	Factor *int32 `json:"factor,omitempty" protobuf:"varint,2,opt,name=factor"`
	// MaxDuration caps the delay, at least Duration. Defaults to 3m.
	// +optional
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty" protobuf:"bytes,3,opt,name=maxDuration"`
}

// ResourceIgnoreDifferences names fields of deployed objects that Ferry ignores.
type ResourceIgnoreDifferences struct {
	// Group of the objects; empty for the core group.
	// +optional
	Group string `json:"group,omitempty" protobuf:"bytes,1,opt,name=group"`
	// Kind of the objects, such as Deployment. Required.
	Kind string `json:"kind" protobuf:"bytes,2,opt,name=kind"`
	// Name of one object; empty means every object of Kind.
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,3,opt,name=name"`
	// Namespace of the objects; empty means every namespace.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,4,opt,name=namespace"`
	// JSONPointers are RFC 6901 pointers to the ignored fields, such as /spec/replicas.
	// +listType=atomic
	JSONPointers []string `json:"jsonPointers" protobuf:"bytes,5,rep,name=jsonPointers"`
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
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// Conditions are Ready, Reconciling, Stalled, Synced and Healthy, in the Kubernetes
	// convention, so `kubectl wait --for=condition=Ready` works.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,2,rep,name=conditions"`
	// SourceRevision is the commit SHA that spec.source.revision resolved to at the last fetch.
	// +optional
	SourceRevision string `json:"sourceRevision,omitempty" protobuf:"bytes,3,opt,name=sourceRevision"`
	// SourceRevisions are, for spec.sources, what the revision of each source resolved to at the
	// last fetch, in the order of spec.sources; sourceRevision joins them with spaces.
	// +optional
	// +listType=atomic
	SourceRevisions []string `json:"sourceRevisions,omitempty" protobuf:"bytes,10,rep,name=sourceRevisions"`
	// Sync says whether the deployed objects match the source.
	// +optional
	Sync SyncStatus `json:"sync,omitempty" protobuf:"bytes,4,opt,name=sync"`
	// Health is the aggregated health of the deployed objects: the worst of them.
	// +optional
	Health HealthStatus `json:"health,omitempty" protobuf:"bytes,5,opt,name=health"`
	// Resources is the inventory: every object the Application manages, with its sync and
	// health status. Ferry prunes from this list only.
	// +optional
	// +listType=atomic
	Resources []ResourceStatus `json:"resources,omitempty" protobuf:"bytes,6,rep,name=resources"`
	// Operation is the sync requested through the applications/sync subresource, while it is
	// pending or running, and the last one once it has finished.
	// +optional
	Operation *Operation `json:"operation,omitempty" protobuf:"bytes,7,opt,name=operation"`
	// History holds the most recent finished operations, newest first, at most 10.
	// +optional
	// +listType=atomic
	History []OperationRecord `json:"history,omitempty" protobuf:"bytes,8,rep,name=history"`
	// ReconciledAt is when the controller last finished reconciling this Application.
	// +optional
	ReconciledAt *metav1.Time `json:"reconciledAt,omitempty" protobuf:"bytes,9,opt,name=reconciledAt"`
	// Rollback, while set, holds the Application at the revision a rollback synced to: the sync
	// policy does not follow Git while Git still names the revision rolled away from. A
	// requested sync, or Git naming another revision, ends it.
	// +optional
	Rollback *RollbackStatus `json:"rollback,omitempty" protobuf:"bytes,11,opt,name=rollback"`
	// LastSelfHeal is the last time selfHeal put objects changed in the cluster back to Git's
	// version: a drift that is repaired at once never shows as OutOfSync, and this is its trace.
	// +optional
	LastSelfHeal *SelfHealRecord `json:"lastSelfHeal,omitempty" protobuf:"bytes,12,opt,name=lastSelfHeal"`
	// Refresh is the last refresh requested through the applications/refresh subresource, and
	// whether the controller has handled it.
	// +optional
	Refresh *RefreshStatus `json:"refresh,omitempty" protobuf:"bytes,13,opt,name=refresh"`
}

// RefreshStatus is a request to list the source's branches and tags now instead of at the
// interval, and how far the controller got with it.
type RefreshStatus struct {
	// RequestedAt is when the last refresh was requested, to the microsecond: the controller
	// resolves the revision from a listing of the remote that started no earlier, so a commit
	// pushed before the request is seen.
	RequestedAt metav1.MicroTime `json:"requestedAt" protobuf:"bytes,1,opt,name=requestedAt"`
	// RequestedBy is the authenticated user who requested it, as kube-apiserver reported it.
	// +optional
	RequestedBy string `json:"requestedBy,omitempty" protobuf:"bytes,2,opt,name=requestedBy"`
	// Reason is the requester's free text, such as the push that caused it.
	// +optional
	Reason string `json:"reason,omitempty" protobuf:"bytes,3,opt,name=reason"`
	// HandledAt is the requestedAt of the last refresh the controller has handled; the refresh
	// is pending while it is older than requestedAt.
	// +optional
	HandledAt *metav1.MicroTime `json:"handledAt,omitempty" protobuf:"bytes,4,opt,name=handledAt"`
}

// SyncStatus is the comparison of the deployed objects with Git.
type SyncStatus struct {
	// Status is Synced, OutOfSync or Unknown.
	// +optional
	Status SyncStatusCode `json:"status,omitempty" protobuf:"bytes,1,opt,name=status,casttype=SyncStatusCode"`
	// Revision is the commit SHA last applied.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,2,opt,name=revision"`
	// Revisions are, for spec.sources, the revision of each source last applied, in the order of
	// spec.sources; revision joins them with spaces.
	// +optional
	// +listType=atomic
	Revisions []string `json:"revisions,omitempty" protobuf:"bytes,3,rep,name=revisions"`
}

// HealthStatus is a health code with a human-readable reason.
type HealthStatus struct {
	// Status is Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
	// +optional
	Status HealthStatusCode `json:"status,omitempty" protobuf:"bytes,1,opt,name=status,casttype=HealthStatusCode"`
	// Message explains the status, when there is more to say.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,2,opt,name=message"`
}

// ResourceStatus is one managed object of the inventory.
type ResourceStatus struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string `json:"group,omitempty" protobuf:"bytes,1,opt,name=group"`
	// Version of the object's API.
	Version string `json:"version" protobuf:"bytes,2,opt,name=version"`
	// Kind of the object.
	Kind string `json:"kind" protobuf:"bytes,3,opt,name=kind"`
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,4,opt,name=namespace"`
	// Name of the object.
	Name string `json:"name" protobuf:"bytes,5,opt,name=name"`
	// Status says whether the live object matches Git.
	// +optional
	Status SyncStatusCode `json:"status,omitempty" protobuf:"bytes,6,opt,name=status,casttype=SyncStatusCode"`
	// Health of the live object.
	// +optional
	Health HealthStatusCode `json:"health,omitempty" protobuf:"bytes,7,opt,name=health,casttype=HealthStatusCode"`
}

// SyncResource names one object a sync operation is limited to.
type SyncResource struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string `json:"group,omitempty" protobuf:"bytes,1,opt,name=group"`
	// Kind of the object.
	Kind string `json:"kind" protobuf:"bytes,2,opt,name=kind"`
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,3,opt,name=namespace"`
	// Name of the object.
	Name string `json:"name" protobuf:"bytes,4,opt,name=name"`
}

// RequestedBy is the authenticated identity that requested an operation, as kube-apiserver
// reported it. It is never taken from the request body.
type RequestedBy struct {
	// Username of the requester.
	Username string `json:"username" protobuf:"bytes,1,opt,name=username"`
	// UID of the requester, when the authenticator gives one.
	// +optional
	UID string `json:"uid,omitempty" protobuf:"bytes,2,opt,name=uid"`
	// Groups of the requester.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty" protobuf:"bytes,3,rep,name=groups"`
}

// Operation is a sync requested through the applications/sync subresource.
type Operation struct {
	// ID identifies the operation; it is generated by the server.
	ID string `json:"id" protobuf:"bytes,1,opt,name=id"`
	// Phase is Pending, Running, Succeeded or Failed.
	Phase OperationPhase `json:"phase" protobuf:"bytes,2,opt,name=phase,casttype=OperationPhase"`
	// Revision to sync to; empty means spec.source.revision.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,3,opt,name=revision"`
	// Prune deletes objects no longer in Git during this operation, even when the sync policy
	// does not prune.
	// +optional
	Prune bool `json:"prune,omitempty" protobuf:"varint,4,opt,name=prune"`
	// DryRun runs the operation as a server-side dry run: nothing is changed in the cluster.
	// +optional
	DryRun bool `json:"dryRun,omitempty" protobuf:"varint,5,opt,name=dryRun"`
	// Resources limits the operation to these objects; empty means all.
	// +optional
	// +listType=atomic
	Resources []SyncResource `json:"resources,omitempty" protobuf:"bytes,6,rep,name=resources"`
	// RequestedBy is who asked for the operation.
	RequestedBy RequestedBy `json:"requestedBy" protobuf:"bytes,7,opt,name=requestedBy"`
	// RequestedAt is when the operation was requested.
	RequestedAt metav1.Time `json:"requestedAt" protobuf:"bytes,8,opt,name=requestedAt"`
	// StartedAt is when the controller started the operation.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty" protobuf:"bytes,9,opt,name=startedAt"`
	// FinishedAt is when the operation finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty" protobuf:"bytes,10,opt,name=finishedAt"`
	// SyncedRevision is the commit SHA the operation applied.
	// +optional
	SyncedRevision string `json:"syncedRevision,omitempty" protobuf:"bytes,11,opt,name=syncedRevision"`
	// Message says what happened, or why the operation failed.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,12,opt,name=message"`
	// Steps are the sync waves and hooks of the operation, in the order they run; empty when
	// everything is applied at once (no object names a wave).
	// +optional
	// +listType=atomic
	Steps []OperationStep `json:"steps,omitempty" protobuf:"bytes,13,rep,name=steps"`
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
	Type OperationStepType `json:"type" protobuf:"bytes,1,opt,name=type,casttype=OperationStepType"`
	// Wave is the sync wave the step applies, or that the hook runs in.
	Wave int32 `json:"wave" protobuf:"varint,2,opt,name=wave"`
	// Hook is the hook's type (PreSync, Sync, PostSync or SyncFail), for a Hook step.
	// +optional
	Hook string `json:"hook,omitempty" protobuf:"bytes,3,opt,name=hook"`
	// Kind of the hook object, for a Hook step.
	// +optional
	Kind string `json:"kind,omitempty" protobuf:"bytes,4,opt,name=kind"`
	// Name of the hook object, for a Hook step.
	// +optional
	Name string `json:"name,omitempty" protobuf:"bytes,5,opt,name=name"`
	// Objects is how many objects a Wave step applies.
	// +optional
	Objects int32 `json:"objects,omitempty" protobuf:"varint,6,opt,name=objects"`
	// Phase is Running, Succeeded or Failed.
	Phase OperationPhase `json:"phase" protobuf:"bytes,7,opt,name=phase,casttype=OperationPhase"`
	// Message says what the step waits for, or why it failed.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,8,opt,name=message"`
}

// OperationRecord is a finished operation kept in the history.
type OperationRecord struct {
	// ID of the operation.
	ID string `json:"id" protobuf:"bytes,1,opt,name=id"`
	// Phase the operation finished in: Succeeded or Failed.
	Phase OperationPhase `json:"phase" protobuf:"bytes,2,opt,name=phase,casttype=OperationPhase"`
	// Revision that was requested.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,3,opt,name=revision"`
	// SyncedRevision is the commit SHA that was applied.
	// +optional
	SyncedRevision string `json:"syncedRevision,omitempty" protobuf:"bytes,4,opt,name=syncedRevision"`
	// Prune says whether the operation pruned.
	// +optional
	Prune bool `json:"prune,omitempty" protobuf:"varint,5,opt,name=prune"`
	// DryRun says whether the operation was a dry run.
	// +optional
	DryRun bool `json:"dryRun,omitempty" protobuf:"varint,6,opt,name=dryRun"`
	// RequestedBy is the username of the requester.
	// +optional
	RequestedBy string `json:"requestedBy,omitempty" protobuf:"bytes,7,opt,name=requestedBy"`
	// RequestedAt is when the operation was requested.
	// +optional
	RequestedAt *metav1.Time `json:"requestedAt,omitempty" protobuf:"bytes,8,opt,name=requestedAt"`
	// FinishedAt is when the operation finished.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty" protobuf:"bytes,9,opt,name=finishedAt"`
	// Message is the operation's final message, truncated.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,10,opt,name=message"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationList is a list of Applications.
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items are the Applications.
	Items []Application `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationSync is the body of a POST to applications/{name}/sync: a request to sync the
// Application now. The response carries the recorded operation's id and phase.
type ApplicationSync struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata; name, when set, must equal the Application's name.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is what to sync.
	// +optional
	Spec ApplicationSyncSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is filled in by the server: the operation it recorded.
	// +optional
	Status ApplicationSyncStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ApplicationSyncSpec is what a sync request asks for.
type ApplicationSyncSpec struct {
	// Revision to sync to: a branch, tag or full commit SHA. Empty means spec.source.revision.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,1,opt,name=revision"`
	// Prune deletes objects no longer in Git, even when the sync policy does not prune.
	// +optional
	Prune bool `json:"prune,omitempty" protobuf:"varint,2,opt,name=prune"`
	// DryRun asks the controller to run the sync as a server-side dry run that changes nothing.
	// +optional
	DryRun bool `json:"dryRun,omitempty" protobuf:"varint,3,opt,name=dryRun"`
	// Resources limits the sync to these objects; empty means all.
	// +optional
	// +listType=atomic
	Resources []SyncResource `json:"resources,omitempty" protobuf:"bytes,4,rep,name=resources"`
	// OverrideSyncWindows runs the sync while a SyncWindow blocks syncs. Only users allowed the
	// verb override on syncwindows in the namespace may set it. (A body field, not a query
	// parameter: a POST to a subresource hands its handler the body alone.)
	// +optional
	OverrideSyncWindows bool `json:"overrideSyncWindows,omitempty" protobuf:"varint,5,opt,name=overrideSyncWindows"`
}

// ApplicationSyncStatus reports the operation a sync request recorded.
type ApplicationSyncStatus struct {
	// OperationID is the id of the recorded operation, as in status.operation.id.
	// +optional
	OperationID string `json:"operationID,omitempty" protobuf:"bytes,1,opt,name=operationID"`
	// Phase of the operation when the request returned: Pending.
	// +optional
	Phase OperationPhase `json:"phase,omitempty" protobuf:"bytes,2,opt,name=phase,casttype=OperationPhase"`
	// ApplicationResourceVersion is the Application's resourceVersion after the operation was
	// recorded, to watch from.
	// +optional
	ApplicationResourceVersion string `json:"applicationResourceVersion,omitempty" protobuf:"bytes,3,opt,name=applicationResourceVersion"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationRefresh is the body of a POST to applications/{name}/refresh: a request to look for
// new commits now instead of at the interval. An automated Application then syncs a new commit;
// a manual one reports OutOfSync. The response says when the refresh was recorded.
type ApplicationRefresh struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata; name, when set, must equal the Application's name.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec says why.
	// +optional
	Spec ApplicationRefreshSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is filled in by the server: the refresh it recorded.
	// +optional
	Status ApplicationRefreshStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ApplicationRefreshSpec is what a refresh request says.
type ApplicationRefreshSpec struct {
	// Reason is free text recorded in status.refresh.reason, at most 256 characters.
	// +optional
	Reason string `json:"reason,omitempty" protobuf:"bytes,1,opt,name=reason"`
}

// ApplicationRefreshStatus reports the refresh a request recorded.
type ApplicationRefreshStatus struct {
	// RequestedAt is the time recorded in the Application's status.refresh.requestedAt; the
	// refresh is handled once status.refresh.handledAt reaches it.
	// +optional
	RequestedAt metav1.MicroTime `json:"requestedAt,omitempty" protobuf:"bytes,1,opt,name=requestedAt"`
	// ApplicationResourceVersion is the Application's resourceVersion after the refresh was
	// recorded, to watch from.
	// +optional
	ApplicationResourceVersion string `json:"applicationResourceVersion,omitempty" protobuf:"bytes,2,opt,name=applicationResourceVersion"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationHealth is the answer of GET applications/{name}/health: the health of every object
// the Application manages, read live from the cluster when asked rather than taken from status.
type ApplicationHealth struct {
	metav1.TypeMeta `json:",inline"`
	// Name, namespace, uid and resourceVersion of the Application.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Status is the aggregated health: the worst of the objects'.
	// +optional
	Status HealthStatusCode `json:"status,omitempty" protobuf:"bytes,2,opt,name=status,casttype=HealthStatusCode"`
	// Message explains the aggregated health, naming the worst object.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,3,opt,name=message"`
	// Resources is the health of each managed object.
	// +optional
	// +listType=atomic
	Resources []ResourceHealth `json:"resources,omitempty" protobuf:"bytes,4,rep,name=resources"`
}

// ResourceHealth is the live health of one managed object.
type ResourceHealth struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string `json:"group,omitempty" protobuf:"bytes,1,opt,name=group"`
	// Version of the object's API.
	Version string `json:"version" protobuf:"bytes,2,opt,name=version"`
	// Kind of the object.
	Kind string `json:"kind" protobuf:"bytes,3,opt,name=kind"`
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,4,opt,name=namespace"`
	// Name of the object.
	Name string `json:"name" protobuf:"bytes,5,opt,name=name"`
	// Status is Healthy, Progressing, Degraded, Suspended, Missing or Unknown.
	// +optional
	Status HealthStatusCode `json:"status,omitempty" protobuf:"bytes,6,opt,name=status,casttype=HealthStatusCode"`
	// Message explains the status.
	// +optional
	Message string `json:"message,omitempty" protobuf:"bytes,7,opt,name=message"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationManifests is the answer of GET applications/{name}/manifests: the objects the
// Application's path renders to at a revision, as Ferry would apply them. Secret values are
// masked.
type ApplicationManifests struct {
	metav1.TypeMeta `json:",inline"`
	// Name, namespace, uid and resourceVersion of the Application.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Revision is the commit SHA that was rendered.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,2,opt,name=revision"`
	// Objects are the rendered objects, with namespaces defaulted and Ferry's tracking metadata
	// set. The data and stringData values of Secrets are replaced by a mask.
	// +optional
	// +listType=atomic
	Objects []runtime.RawExtension `json:"objects,omitempty" protobuf:"bytes,3,rep,name=objects"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationManifestsOptions are the query parameters of GET applications/{name}/manifests.
type ApplicationManifestsOptions struct {
	metav1.TypeMeta `json:",inline"`

	// Revision to render: a branch, tag or full commit SHA. Empty means spec.source.revision.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,1,opt,name=revision"`
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
	metav1.TypeMeta `json:",inline"`
	// Name, namespace, uid and resourceVersion of the Application.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Revision is the commit SHA compared.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,2,opt,name=revision"`
	// Summary counts the objects by action.
	// +optional
	Summary DiffSummary `json:"summary,omitempty" protobuf:"bytes,3,opt,name=summary"`
	// Items are the objects, with what a sync would do and a unified diff of their normalised
	// YAML (live before, desired after).
	// +optional
	// +listType=atomic
	Items []ResourceDiff `json:"items,omitempty" protobuf:"bytes,4,rep,name=items"`
}

// DiffSummary counts objects by action.
type DiffSummary struct {
	// Create counts objects a sync would create.
	// +optional
	Create int32 `json:"create,omitempty" protobuf:"varint,1,opt,name=create"`
	// Update counts objects a sync would change.
	// +optional
	Update int32 `json:"update,omitempty" protobuf:"varint,2,opt,name=update"`
	// Delete counts objects a pruning sync would delete.
	// +optional
	Delete int32 `json:"delete,omitempty" protobuf:"varint,3,opt,name=delete"`
	// None counts objects already as Git says.
	// +optional
	None int32 `json:"none,omitempty" protobuf:"varint,4,opt,name=none"`
}

// ResourceDiff is what a sync would do with one object.
type ResourceDiff struct {
	// Group of the object; empty for the core group.
	// +optional
	Group string `json:"group,omitempty" protobuf:"bytes,1,opt,name=group"`
	// Version of the object's API.
	Version string `json:"version" protobuf:"bytes,2,opt,name=version"`
	// Kind of the object.
	Kind string `json:"kind" protobuf:"bytes,3,opt,name=kind"`
	// Namespace of the object; empty for cluster-scoped objects.
	// +optional
	Namespace string `json:"namespace,omitempty" protobuf:"bytes,4,opt,name=namespace"`
	// Name of the object.
	Name string `json:"name" protobuf:"bytes,5,opt,name=name"`
	// Action is Create, Update, Delete or None.
	Action DiffAction `json:"action" protobuf:"bytes,6,opt,name=action,casttype=DiffAction"`
	// Diff is a unified diff of the normalised YAML, empty for None.
	// +optional
	Diff string `json:"diff,omitempty" protobuf:"bytes,7,opt,name=diff"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationDiffOptions are the query parameters of GET applications/{name}/diff.
type ApplicationDiffOptions struct {
	metav1.TypeMeta `json:",inline"`

	// Revision to compare: a branch, tag or full commit SHA. Empty means spec.source.revision.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,1,opt,name=revision"`
}

// ValuesOnly says whether a source of spec.sources only lends its files to the value files of
// the others: it has a ref and neither a path nor a chart to render.
func (s *ApplicationSource) ValuesOnly() bool {
	return s.Ref != "" && s.Path == "" && s.Chart == ""
}

// RefValueFile splits a value file of the form $<ref>/<path>, which reads path of the source of
// spec.sources named ref, into ref and path; ok is false for a value file of the chart's own
// repository.
func RefValueFile(vf string) (ref, path string, ok bool) {
	rest, ok := strings.CutPrefix(vf, "$")
	if !ok {
		return "", "", false
	}
	ref, path, _ = strings.Cut(rest, "/")
	return ref, path, true
}
