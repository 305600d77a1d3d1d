package v1alpha1

// Condition types of an Application's status.conditions.
const (
	// ConditionReady is True when the source revision is applied, in sync and healthy.
	ConditionReady = "Ready"
	// ConditionReconciling is True while Ferry works on the Application.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when Ferry cannot progress without a change by the user (an
	// invalid manifest, a path that does not exist); it does not retry until something changes.
	ConditionStalled = "Stalled"
	// ConditionSynced is True when the live objects match the source revision.
	ConditionSynced = "Synced"
	// ConditionHealthy is True when every managed object is healthy.
	ConditionHealthy = "Healthy"
	// ConditionRolledBack is True while a rollback holds the Application at the revision it went
	// back to (status.rollback); False, saying why, once it follows Git again.
	ConditionRolledBack = "RolledBack"
	// ConditionSyncWindow is True while a SyncWindow keeps the Application from syncing by
	// itself (reason DenyWindow or OutsideAllowWindow), saying which window and until when;
	// False (reason Open) while its windows let it sync. Only Applications a SyncWindow selects
	// have it.
	ConditionSyncWindow = "SyncWindow"
)

// Reasons of the conditions.
const (
	ReasonSucceeded        = "Succeeded"
	ReasonProgressing      = "Progressing"
	ReasonSuspended        = "Suspended"
	ReasonGitFailed        = "GitOperationFailed"
	ReasonCredentialsError = "CredentialsError"
	ReasonRenderFailed     = "RenderFailed"
	ReasonApplyFailed      = "ApplyFailed"
	ReasonForbidden        = "Forbidden"
	ReasonPruneFailed      = "PruneFailed"
	ReasonOutOfSync        = "OutOfSync"
	ReasonSynced           = "Synced"
	ReasonOperationRunning = "OperationRunning"
	// ReasonSharedResource: objects of Git are managed by another Application and left alone.
	ReasonSharedResource = "SharedResource"
	// ReasonWaveFailed: an object of a sync wave did not become Healthy within
	// spec.syncPolicy.waveTimeout, or failed; the waves after it were not applied.
	ReasonWaveFailed = "WaveFailed"
	// ReasonHookFailed: a sync hook failed or did not finish within spec.syncPolicy.waveTimeout;
	// the sync stopped there. It is not retried at the same revision: a new commit, a spec change
	// or a requested sync runs it again.
	ReasonHookFailed = "HookFailed"
	// ReasonDependencyNotReady: an Application of spec.dependsOn is not yet Synced and Healthy
	// at its current revision (or is missing, or the dependencies form a cycle); nothing is
	// applied until it is.
	ReasonDependencyNotReady = "DependencyNotReady"
	// ReasonClusterUnavailable: the Cluster of spec.destination.cluster does not exist, is not
	// Ready, or could not be reached. Sync and health are Unknown; nothing is pruned, and Ferry
	// tries again until the cluster is back.
	ReasonClusterUnavailable = "ClusterUnavailable"
	// ReasonChartFailed: the chart of spec.source.chart, or a dependency a chart locks, could
	// not be resolved or downloaded from its Helm repository or OCI registry. A chart or version
	// that does not exist waits for a change; a repository that is down is retried.
	ReasonChartFailed = "ChartFetchFailed"
	// ReasonDecryptionFailed: a SOPS-encrypted file could not be decrypted with the keys of
	// spec.decryption's Secret (missing, wrong, or the Secret unreadable), or a decrypted value
	// would land outside a Secret. The message names the file; Ferry tries again, so fixing the
	// Secret is enough.
	ReasonDecryptionFailed = "DecryptionFailed"
	// ReasonInternalError is a fault of Ferry itself while working on the Application (a panic,
	// recovered): the message names it, the server log has the stack, and Ferry retries.
	ReasonInternalError = "InternalError"
	// ReasonNamespaceTerminating: the Application's own namespace is being deleted. Ferry no
	// longer syncs it; its deletion follows with the namespace's, leaving the objects in that
	// namespace to the namespace's deletion and pruning the others.
	ReasonNamespaceTerminating = "NamespaceTerminating"
	// ReasonRolledBack: a rollback holds the Application while Git names the revision it went
	// back from.
	ReasonRolledBack = "RolledBack"
	// ReasonGitMoved: Git named another revision than the one rolled back from, and the
	// Application follows Git again.
	ReasonGitMoved = "GitMoved"
	// ReasonSyncRequested: a sync requested by hand ended a rollback's hold.
	ReasonSyncRequested = "SyncRequested"
	// ReasonDenyWindow: a deny SyncWindow in force holds automated syncs.
	ReasonDenyWindow = "DenyWindow"
	// ReasonOutsideAllowWindow: allow SyncWindows select the Application and none is in force.
	ReasonOutsideAllowWindow = "OutsideAllowWindow"
	// ReasonWindowOpen: the Application's SyncWindows let it sync now.
	ReasonWindowOpen = "Open"
)

// Metadata Ferry reads and writes on Applications.
const (
	// PruneFinalizer makes Ferry delete an Application's objects before the Application goes.
	PruneFinalizer = "gitops.ferry.dev/prune"
	// DeletionPolicyAnnotation set to "orphan" keeps the objects when the Application is
	// deleted; the default, "delete", prunes them.
	DeletionPolicyAnnotation = "gitops.ferry.dev/deletion-policy"
	// DeletionPolicyOrphan is the value of DeletionPolicyAnnotation that keeps objects.
	DeletionPolicyOrphan = "orphan"
	// TrackingAnnotation, on an object Ferry applies, names the Application that owns it and
	// the object itself: <app-namespace>/<app-name>:<group>/<kind>:<namespace>/<name>. Ferry
	// prunes an object only when it names the pruning Application and the object exactly; the
	// web UI reads it to say which Application owns a SharedResource.
	TrackingAnnotation = "gitops.ferry.dev/tracking-id"
	// MaxHistory is how many finished operations status.history keeps.
	MaxHistory = 10
)

// Condition types and reasons of a Cluster's status.conditions.
const (
	// ClusterConditionReady is True when Ferry reached the cluster with its credentials at the
	// last probe.
	ClusterConditionReady = "Ready"
	// ReasonClusterReachable: the last probe reached the cluster and was let in.
	ReasonClusterReachable = "Reachable"
	// ReasonClusterUnreachable: the cluster did not answer (connection refused, timeout, TLS).
	ReasonClusterUnreachable = "Unreachable"
	// ReasonClusterUnauthorized: the cluster answered 401 or 403 to Ferry's credentials.
	ReasonClusterUnauthorized = "Unauthorized"
	// ReasonClusterCredentialsError: the Secret of spec.credentialsRef is missing or holds no
	// usable credentials.
	ReasonClusterCredentialsError = "CredentialsError"
)

// ClusterCredentialKeys are the keys of a Cluster's credentials Secret Ferry reads.
const (
	ClusterTokenKey = "token"
	ClusterCertKey  = "tls.crt"
	ClusterKeyKey   = "tls.key"
)

// Condition reasons of a Receiver's Ready condition.
const (
	// ReasonReceiverReady: the Receiver's token is read and its path served.
	ReasonReceiverReady = "Ready"
	// ReasonSecretNotFound: spec.secretRef names no Secret of the namespace.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonTokenMissing: the Secret has no non-empty key "token".
	ReasonTokenMissing = "TokenMissing"
)
