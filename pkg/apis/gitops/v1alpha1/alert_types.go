package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AlertProviderType is where an AlertProvider delivers: a chat, a commit status, Alertmanager.
type AlertProviderType string

// The kinds of AlertProvider.
const (
	// AlertProviderGeneric POSTs the alert's data model as JSON to spec.address.
	AlertProviderGeneric AlertProviderType = "generic"
	// AlertProviderSlack POSTs {text, channel} to a Slack incoming webhook.
	AlertProviderSlack AlertProviderType = "slack"
	// AlertProviderMSTeams POSTs a MessageCard to a Microsoft Teams incoming webhook.
	AlertProviderMSTeams AlertProviderType = "msteams"
	// AlertProviderGitHub sets a commit status on the synced commit (POST
	// /repos/{owner}/{repo}/statuses/{sha} under spec.address, e.g. https://api.github.com).
	AlertProviderGitHub AlertProviderType = "github"
	// AlertProviderGitLab sets a commit status (POST /api/v4/projects/{path}/statuses/{sha}).
	AlertProviderGitLab AlertProviderType = "gitlab"
	// AlertProviderGitea sets a commit status (POST /api/v1/repos/{owner}/{repo}/statuses/{sha}).
	AlertProviderGitea AlertProviderType = "gitea"
	// AlertProviderAlertmanager POSTs alerts to Alertmanager's /api/v2/alerts.
	AlertProviderAlertmanager AlertProviderType = "alertmanager"
)

// AlertTrigger names a change of an Application an Alert reports. These names are the contract.
type AlertTrigger string

// The triggers of an Alert.
const (
	// AlertTriggerCreated: the Application was created.
	AlertTriggerCreated AlertTrigger = "Created"
	// AlertTriggerDeleted: the Application was deleted.
	AlertTriggerDeleted AlertTrigger = "Deleted"
	// AlertTriggerSyncRunning: a sync operation (POST /sync) is running.
	AlertTriggerSyncRunning AlertTrigger = "SyncRunning"
	// AlertTriggerSyncSucceeded: the objects were synced to a new revision.
	AlertTriggerSyncSucceeded AlertTrigger = "SyncSucceeded"
	// AlertTriggerSyncFailed: a sync failed (Ready False with a failure's reason).
	AlertTriggerSyncFailed AlertTrigger = "SyncFailed"
	// AlertTriggerDeployed: a new revision is synced and Healthy.
	AlertTriggerDeployed AlertTrigger = "Deployed"
	// AlertTriggerHealthDegraded: the Application's health turned Degraded.
	AlertTriggerHealthDegraded AlertTrigger = "HealthDegraded"
	// AlertTriggerDrifted: the Application is OutOfSync by a change in the cluster, not in Git.
	AlertTriggerDrifted AlertTrigger = "Drifted"
)

// AlertTriggers are every trigger, in the order they are documented.
var AlertTriggers = []AlertTrigger{
	AlertTriggerCreated, AlertTriggerDeleted, AlertTriggerSyncRunning, AlertTriggerSyncSucceeded,
	AlertTriggerSyncFailed, AlertTriggerDeployed, AlertTriggerHealthDegraded, AlertTriggerDrifted,
}

// Condition types and reasons of Alerts and AlertProviders.
const (
	// AlertConditionReady is True when the Alert (or AlertProvider) is usable: its provider
	// exists, and the Alert has taken note of its Applications' current state, so it reports
	// only what changes from then on.
	AlertConditionReady = "Ready"
	// AlertConditionDelivered is True when the last delivery succeeded; False says why the last
	// one failed (never with the remote's response body).
	AlertConditionDelivered = "Delivered"
	// ReasonAlertProviderNotFound: spec.providerRef names no AlertProvider of the namespace.
	ReasonAlertProviderNotFound = "ProviderNotFound"
	// ReasonAlertSuspended: spec.suspend is true; nothing is sent.
	ReasonAlertSuspended = "Suspended"
	// ReasonDeliverySucceeded and ReasonDeliveryFailed are the Delivered condition's reasons.
	ReasonDeliverySucceeded = "DeliverySucceeded"
	ReasonDeliveryFailed    = "DeliveryFailed"
	// AlertProviderSecretKeyToken is the key of a provider's Secret holding a bearer or API
	// token; AlertProviderSecretKeyAddress the key that may hold the address instead of
	// spec.address, when the URL itself is the secret (Slack and Teams webhooks).
	AlertProviderSecretKeyToken   = "token"
	AlertProviderSecretKeyAddress = "address"
	// MaxAlertFired bounds status.fired; MaxAlertDeliveries bounds status.recentDeliveries.
	MaxAlertFired      = 1000
	MaxAlertDeliveries = 20
)

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertProvider is where Alerts of its namespace deliver: a generic JSON webhook, Slack, Microsoft
// Teams, a GitHub, GitLab or Gitea commit status, or Alertmanager. Writing one that names a
// Secret requires the right to get that Secret.
type AlertProvider struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is where and how alerts are delivered.
	Spec AlertProviderSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Status is what Ferry last saw of the provider.
	// +optional
	Status AlertProviderStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// AlertProviderSpec is where and how alerts are delivered.
type AlertProviderSpec struct {
	// Type is one of generic, slack, msteams, github, gitlab, gitea, alertmanager.
	Type AlertProviderType `json:"type" protobuf:"bytes,1,opt,name=type,casttype=AlertProviderType"`
	// Address is the http(s) URL alerts are sent to: the webhook's URL, the API's base URL for
	// commit statuses (https://api.github.com, https://gitlab.com, https://gitea.example.com),
	// or Alertmanager's base URL. Required unless the Secret of secretRef holds it under
	// "address". Loopback, link-local and cloud metadata addresses are refused unless the
	// server's --notification-allowed-cidrs lists them.
	// +optional
	Address string `json:"address,omitempty" protobuf:"bytes,2,opt,name=address"`
	// Channel is the Slack channel to post to, when the webhook allows another than its own.
	// +optional
	Channel string `json:"channel,omitempty" protobuf:"bytes,3,opt,name=channel"`
	// SecretRef names a Secret of the namespace holding "token" (sent as a bearer token, or as
	// GitLab's PRIVATE-TOKEN) and, optionally, "address" (used when spec.address is empty).
	// +optional
	SecretRef *LocalObjectReference `json:"secretRef,omitempty" protobuf:"bytes,4,opt,name=secretRef"`
}

// AlertProviderStatus is what Ferry last saw of an AlertProvider.
type AlertProviderStatus struct {
	// ObservedGeneration is the generation of the spec last looked at.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// Conditions: Ready is True when the provider's Secret (if any) could be read and gives an
	// address.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,2,rep,name=conditions"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertProviderList is a list of AlertProviders.
type AlertProviderList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items are the AlertProviders.
	Items []AlertProvider `json:"items" protobuf:"bytes,2,rep,name=items"`
}

// +genclient
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Alert tells an AlertProvider what happens to the Applications of its namespace it selects:
// each of its triggers fires once per revision and state.
type Alert struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is what is reported, about which Applications, and where.
	Spec AlertSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
	// Status is what the Alert has sent. Only Ferry's own controller writes it.
	// +optional
	Status AlertStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// AlertSpec is what an Alert reports, about which Applications, and where.
type AlertSpec struct {
	// ProviderRef names the AlertProvider of the namespace alerts are sent to.
	ProviderRef LocalObjectReference `json:"providerRef" protobuf:"bytes,1,opt,name=providerRef"`
	// Triggers are the changes reported: Created, Deleted, SyncRunning, SyncSucceeded,
	// SyncFailed, Deployed, HealthDegraded, Drifted.
	// +listType=set
	Triggers []AlertTrigger `json:"triggers" protobuf:"bytes,2,rep,name=triggers,casttype=AlertTrigger"`
	// Selector selects the Applications of the namespace by label; {} selects all of them.
	Selector *metav1.LabelSelector `json:"selector" protobuf:"bytes,3,opt,name=selector"`
	// When is a CEL expression over `app` (the Application as JSON, e.g. app.metadata.labels,
	// app.status.health.status) and `trigger` (a string); an alert is sent only when it is
	// true. Empty always sends.
	// +optional
	When string `json:"when,omitempty" protobuf:"bytes,4,opt,name=when"`
	// Template is a Go text/template of the message, over .Trigger, .Application.Namespace,
	// .Application.Name, .Revision, .ShortRevision, .SyncStatus, .Health, .Message, .Reason.
	// Empty uses a message of Ferry's.
	// +optional
	Template string `json:"template,omitempty" protobuf:"bytes,5,opt,name=template"`
	// Suspend stops sending; what happens meanwhile is not sent later.
	// +optional
	Suspend bool `json:"suspend,omitempty" protobuf:"varint,6,opt,name=suspend"`
}

// AlertStatus is what an Alert has sent.
type AlertStatus struct {
	// ObservedGeneration is the generation of the spec last acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty" protobuf:"varint,1,opt,name=observedGeneration"`
	// Conditions: Ready (the provider exists and the Alert has taken note of its Applications'
	// state), Delivered (whether the last delivery succeeded, and why not).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty" protobuf:"bytes,2,rep,name=conditions"`
	// Fired is, per Application and trigger, the revision and state last reported, so each
	// trigger fires once per revision and state. Entries of deleted Applications are dropped.
	// +optional
	// +listType=atomic
	Fired []AlertFired `json:"fired,omitempty" protobuf:"bytes,3,rep,name=fired"`
	// RecentDeliveries are the last 20 deliveries, newest first.
	// +optional
	// +listType=atomic
	RecentDeliveries []AlertDelivery `json:"recentDeliveries,omitempty" protobuf:"bytes,4,rep,name=recentDeliveries"`
}

// AlertFired is the revision and state a trigger last reported for an Application.
type AlertFired struct {
	// Application is the name of the Application.
	Application string `json:"application" protobuf:"bytes,1,opt,name=application"`
	// Trigger is the trigger that fired.
	Trigger AlertTrigger `json:"trigger" protobuf:"bytes,2,opt,name=trigger,casttype=AlertTrigger"`
	// Key is the revision and state it fired for.
	Key string `json:"key" protobuf:"bytes,3,opt,name=key"`
	// At is when it fired.
	At metav1.Time `json:"at" protobuf:"bytes,4,opt,name=at"`
}

// AlertDeliveryResult says how a delivery ended.
type AlertDeliveryResult string

// The results of a delivery.
const (
	AlertDeliverySent   AlertDeliveryResult = "Sent"
	AlertDeliveryFailed AlertDeliveryResult = "Failed"
)

// AlertDelivery is one delivery of an alert.
type AlertDelivery struct {
	// Time is when the delivery ended.
	Time metav1.Time `json:"time" protobuf:"bytes,1,opt,name=time"`
	// Application is the name of the Application the alert was about.
	Application string `json:"application" protobuf:"bytes,2,opt,name=application"`
	// Trigger is the trigger that fired.
	Trigger AlertTrigger `json:"trigger" protobuf:"bytes,3,opt,name=trigger,casttype=AlertTrigger"`
	// Revision is the revision it fired at.
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,4,opt,name=revision"`
	// Provider is the AlertProvider it was sent to.
	Provider string `json:"provider" protobuf:"bytes,5,opt,name=provider"`
	// Result is Sent or Failed.
	Result AlertDeliveryResult `json:"result" protobuf:"bytes,6,opt,name=result,casttype=AlertDeliveryResult"`
	// Attempts is how many times it was tried.
	Attempts int32 `json:"attempts" protobuf:"varint,7,opt,name=attempts"`
	// Error says why it failed: the status code or the connection's error, never the remote's
	// response body.
	// +optional
	Error string `json:"error,omitempty" protobuf:"bytes,8,opt,name=error"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertList is a list of Alerts.
type AlertList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items are the Alerts.
	Items []Alert `json:"items" protobuf:"bytes,2,rep,name=items"`
}
