package gitops

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AlertProviderType is where an AlertProvider delivers: a chat, a commit status, Alertmanager.
type AlertProviderType string

// AlertTrigger names a change of an Application an Alert reports. These names are the contract.
type AlertTrigger string

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertProvider is where Alerts of its namespace deliver: a generic JSON webhook, Slack, Microsoft
// Teams, a GitHub, GitLab or Gitea commit status, or Alertmanager. Writing one that names a
// Secret requires the right to get that Secret.
type AlertProvider struct {
	metav1.TypeMeta
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta

	// Spec is where and how alerts are delivered.
	Spec AlertProviderSpec
	// Status is what Ferry last saw of the provider.
	// +optional
	Status AlertProviderStatus
}

// AlertProviderSpec is where and how alerts are delivered.
type AlertProviderSpec struct {
	// Type is one of generic, slack, msteams, github, gitlab, gitea, alertmanager.
	Type AlertProviderType
	// Address is the http(s) URL alerts are sent to: the webhook's URL, the API's base URL for
	// commit statuses (https://api.github.com, https://gitlab.com, https://gitea.example.com),
	// or Alertmanager's base URL. Required unless the Secret of secretRef holds it under
	// "address". Loopback, link-local and cloud metadata addresses are refused unless the
	// server's --notification-allowed-cidrs lists them.
	// +optional
	Address string
	// Channel is the Slack channel to post to, when the webhook allows another than its own.
	// +optional
	Channel string
	// SecretRef names a Secret of the namespace holding "token" (sent as a bearer token, or as
	// GitLab's PRIVATE-TOKEN) and, optionally, "address" (used when spec.address is empty).
	// +optional
	SecretRef *LocalObjectReference
}

// AlertProviderStatus is what Ferry last saw of an AlertProvider.
type AlertProviderStatus struct {
	// ObservedGeneration is the generation of the spec last looked at.
	// +optional
	ObservedGeneration int64
	// Conditions: Ready is True when the provider's Secret (if any) could be read and gives an
	// address.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertProviderList is a list of AlertProviders.
type AlertProviderList struct {
	metav1.TypeMeta
	// Standard list metadata.
	// +optional
	metav1.ListMeta
	// Items are the AlertProviders.
	Items []AlertProvider
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Alert tells an AlertProvider what happens to the Applications of its namespace it selects:
// each of its triggers fires once per revision and state.
type Alert struct {
	metav1.TypeMeta
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta

	// Spec is what is reported, about which Applications, and where.
	Spec AlertSpec
	// Status is what the Alert has sent. Only Ferry's own controller writes it.
	// +optional
	Status AlertStatus
}

// AlertSpec is what an Alert reports, about which Applications, and where.
type AlertSpec struct {
	// ProviderRef names the AlertProvider of the namespace alerts are sent to.
	ProviderRef LocalObjectReference
	// Triggers are the changes reported: Created, Deleted, SyncRunning, SyncSucceeded,
	// SyncFailed, Deployed, HealthDegraded, Drifted.
	// +listType=set
	Triggers []AlertTrigger
	// Selector selects the Applications of the namespace by label; {} selects all of them.
	Selector *metav1.LabelSelector
	// When is a CEL expression over `app` (the Application as JSON, e.g. app.metadata.labels,
	// app.status.health.status) and `trigger` (a string); an alert is sent only when it is
	// true. Empty always sends.
	// +optional
	When string
	// Template is a Go text/template of the message, over .Trigger, .Application.Namespace,
	// .Application.Name, .Revision, .ShortRevision, .SyncStatus, .Health, .Message, .Reason.
	// Empty uses a message of Ferry's.
	// +optional
	Template string
	// Suspend stops sending; what happens meanwhile is not sent later.
	// +optional
	Suspend bool
}

// AlertStatus is what an Alert has sent.
type AlertStatus struct {
	// ObservedGeneration is the generation of the spec last acted on.
	// +optional
	ObservedGeneration int64
	// Conditions: Ready (the provider exists and the Alert has taken note of its Applications'
	// state), Delivered (whether the last delivery succeeded, and why not).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition
	// Fired is, per Application and trigger, the revision and state last reported, so each
	// trigger fires once per revision and state. Entries of deleted Applications are dropped.
	// +optional
	// +listType=atomic
	Fired []AlertFired
	// RecentDeliveries are the last 20 deliveries, newest first.
	// +optional
	// +listType=atomic
	RecentDeliveries []AlertDelivery
}

// AlertFired is the revision and state a trigger last reported for an Application.
type AlertFired struct {
	// Application is the name of the Application.
	Application string
	// Trigger is the trigger that fired.
	Trigger AlertTrigger
	// Key is the revision and state it fired for.
	Key string
	// At is when it fired.
	At metav1.Time
}

// AlertDeliveryResult says how a delivery ended.
type AlertDeliveryResult string

// AlertDelivery is one delivery of an alert.
type AlertDelivery struct {
	// Time is when the delivery ended.
	Time metav1.Time
	// Application is the name of the Application the alert was about.
	Application string
	// Trigger is the trigger that fired.
	Trigger AlertTrigger
	// Revision is the revision it fired at.
	// +optional
	Revision string
	// Provider is the AlertProvider it was sent to.
	Provider string
	// Result is Sent or Failed.
	Result AlertDeliveryResult
	// Attempts is how many times it was tried.
	Attempts int32
	// Error says why it failed: the status code or the connection's error, never the remote's
	// response body.
	// +optional
	Error string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AlertList is a list of Alerts.
type AlertList struct {
	metav1.TypeMeta
	// Standard list metadata.
	// +optional
	metav1.ListMeta
	// Items are the Alerts.
	Items []Alert
}
