package gitops

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Receiver accepts a Git host's push webhooks on Ferry's webhook listener and refreshes the
// Applications of its namespace that the push concerns: those spec.selector selects whose
// repository is the one pushed to and whose paths the push changed. The host signs each delivery
// with the token of spec.secretRef; an unsigned or wrongly signed delivery changes nothing.
type Receiver struct {
	metav1.TypeMeta
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta

	// Spec says which host sends, how it signs, and which Applications it may refresh.
	Spec ReceiverSpec
	// Status is what Ferry made of the Receiver: the path to give the Git host. Only Ferry's own
	// controller writes it.
	// +optional
	Status ReceiverStatus
}

// ReceiverType is the Git host whose webhook format and signature a Receiver accepts.
type ReceiverType string

const (
	// ReceiverGitHub: X-GitHub-Event, X-Hub-Signature-256 (HMAC-SHA256 of the body).
	ReceiverGitHub ReceiverType = "github"
	// ReceiverGitLab: X-Gitlab-Event, X-Gitlab-Token (the token itself).
	ReceiverGitLab ReceiverType = "gitlab"
	// ReceiverGitea covers Gitea and Forgejo: X-Gitea-Event or X-Forgejo-Event,
	// X-Gitea-Signature or X-Forgejo-Signature (hex HMAC-SHA256 of the body).
	ReceiverGitea ReceiverType = "gitea"
	// ReceiverBitbucketServer is Bitbucket Server and Data Center: X-Event-Key, X-Hub-Signature
	// (sha256= and the hex HMAC-SHA256 of the body).
	ReceiverBitbucketServer ReceiverType = "bitbucket-server"
	// ReceiverGenericHMAC takes a body {"repository": URL, "ref": ..., "after": ..., "paths": [...]}
	// signed in X-Signature (sha256= and the hex HMAC-SHA256 of the body), for CI systems and
	// hosts without a format of their own.
	ReceiverGenericHMAC ReceiverType = "generic-hmac"
)

// ReceiverSpec is what a Receiver accepts and what it may refresh.
type ReceiverSpec struct {
	// Type is the Git host: github, gitlab, gitea (Gitea and Forgejo), bitbucket-server or
	// generic-hmac.
	Type ReceiverType
	// SecretRef names a Secret of the Receiver's namespace whose key "token" is the webhook's
	// shared secret, given to the Git host too. Writing a Receiver requires the right to get it.
	SecretRef LocalObjectReference
	// Selector selects the Applications of the Receiver's namespace a push may refresh; {}
	// selects all of them. Required: a Receiver says what it may touch.
	Selector *metav1.LabelSelector
}

// ReceiverStatus is what Ferry made of a Receiver.
type ReceiverStatus struct {
	// ObservedGeneration is the generation of the spec this status describes.
	// +optional
	ObservedGeneration int64
	// Conditions: Ready is True when the Receiver's Secret holds a token and its path is served.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition
	// WebhookPath is the path of Ferry's webhook listener to give the Git host: /hook/ and the
	// hex SHA-256 of the token, name and namespace. It changes with the token.
	// +optional
	WebhookPath string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ReceiverList is a list of Receivers.
type ReceiverList struct {
	metav1.TypeMeta
	// Standard list metadata.
	// +optional
	metav1.ListMeta
	// Items are the Receivers.
	Items []Receiver
}
