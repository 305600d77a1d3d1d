package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ApplicationRollback is the body of a POST to applications/{name}/rollback: a request to sync
// the Application back to what an earlier sync applied, and to hold it there while Git still
// names the revision rolled away from.
type ApplicationRollback struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata; name, when set, must equal the Application's name.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is where to roll back to.
	// +optional
	Spec ApplicationRollbackSpec `json:"spec,omitempty" protobuf:"bytes,2,opt,name=spec"`
	// Status is filled in by the server: the operation it recorded.
	// +optional
	Status ApplicationRollbackStatus `json:"status,omitempty" protobuf:"bytes,3,opt,name=status"`
}

// ApplicationRollbackSpec is where a rollback goes.
type ApplicationRollbackSpec struct {
	// ID names the entry of status.history to roll back to: a successful sync that was not a dry
	// run. Empty means the newest such entry at another revision than the one synced now.
	// +optional
	ID string `json:"id,omitempty" protobuf:"bytes,1,opt,name=id"`
	// Prune deletes the objects the entry's revision does not hold (what the revision rolled away
	// from added), even when the sync policy does not prune.
	// +optional
	Prune bool `json:"prune,omitempty" protobuf:"varint,2,opt,name=prune"`
	// OverrideSyncWindows runs the rollback while a SyncWindow blocks syncs. Only users allowed the
	// verb override on syncwindows in the namespace may set it. (A body field, not a query
	// parameter: a POST to a subresource hands its handler the body alone.)
	// +optional
	OverrideSyncWindows bool `json:"overrideSyncWindows,omitempty" protobuf:"varint,3,opt,name=overrideSyncWindows"`
}

// ApplicationRollbackStatus reports the operation a rollback recorded.
type ApplicationRollbackStatus struct {
	// OperationID is the id of the recorded operation, as in status.operation.id.
	// +optional
	OperationID string `json:"operationID,omitempty" protobuf:"bytes,1,opt,name=operationID"`
	// Phase of the operation when the request returned: Pending.
	// +optional
	Phase OperationPhase `json:"phase,omitempty" protobuf:"bytes,2,opt,name=phase,casttype=OperationPhase"`
	// Revision is the revision the operation syncs to: the one the history entry applied, of
	// every source (a chart's version included).
	// +optional
	Revision string `json:"revision,omitempty" protobuf:"bytes,3,opt,name=revision"`
	// ApplicationResourceVersion is the Application's resourceVersion after the operation was
	// recorded, to watch from.
	// +optional
	ApplicationResourceVersion string `json:"applicationResourceVersion,omitempty" protobuf:"bytes,4,opt,name=applicationResourceVersion"`
}

// RollbackStatus is a rollback in force: the Application is held at Revision while Git still
// names From.
type RollbackStatus struct {
	// ID is the entry of status.history rolled back to.
	ID string `json:"id" protobuf:"bytes,1,opt,name=id"`
	// Revision is the revision rolled back to.
	Revision string `json:"revision" protobuf:"bytes,2,opt,name=revision"`
	// From is the revision rolled away from: the newest Git named when the rollback was
	// requested. Automated sync follows Git again once Git names another.
	From string `json:"from" protobuf:"bytes,3,opt,name=from"`
	// RequestedBy is the username of the requester.
	// +optional
	RequestedBy string `json:"requestedBy,omitempty" protobuf:"bytes,4,opt,name=requestedBy"`
	// RequestedAt is when the rollback was requested.
	RequestedAt metav1.Time `json:"requestedAt" protobuf:"bytes,5,opt,name=requestedAt"`
}

// SelfHealRecord is one repair by selfHeal: objects changed in the cluster put back to Git's
// version.
type SelfHealRecord struct {
	// Time is when the objects were put back.
	Time metav1.Time `json:"time" protobuf:"bytes,1,opt,name=time"`
	// Revision is the revision they were put back to.
	Revision string `json:"revision" protobuf:"bytes,2,opt,name=revision"`
	// Objects names the first few objects put back, as Kind/namespace/name.
	// +optional
	// +listType=atomic
	Objects []string `json:"objects,omitempty" protobuf:"bytes,3,rep,name=objects"`
	// Count is how many objects were put back.
	Count int32 `json:"count" protobuf:"varint,4,opt,name=count"`
}
