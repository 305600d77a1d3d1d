package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SyncWindowKind says whether a SyncWindow lets syncs run or keeps them out.
type SyncWindowKind string

// The kinds of SyncWindow.
const (
	// SyncWindowAllow: the Applications it selects sync only while one of their allow windows
	// is in force.
	SyncWindowAllow SyncWindowKind = "allow"
	// SyncWindowDeny: the Applications it selects do not sync while it is in force.
	SyncWindowDeny SyncWindowKind = "deny"
)

// +genclient
// +genclient:noStatus
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SyncWindow is a recurring stretch of time when the Applications of its namespace it selects
// may sync (allow) or may not (deny): a freeze, or the hours deploys are welcome. Automated
// syncs wait for the window; requested syncs and rollbacks are refused unless spec.manualSync
// allows them or the requester holds the verb override on syncwindows.
type SyncWindow struct {
	metav1.TypeMeta `json:",inline"`
	// Standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`

	// Spec is when the window is in force, what it does and to which Applications.
	Spec SyncWindowSpec `json:"spec" protobuf:"bytes,2,opt,name=spec"`
}

// SyncWindowSpec is when a SyncWindow is in force, what it does and to which Applications.
type SyncWindowSpec struct {
	// Kind is allow or deny. A deny window in force blocks syncs; when an allow window selects
	// an Application, it syncs only while one of them is in force. Deny wins over allow.
	Kind SyncWindowKind `json:"kind" protobuf:"bytes,1,opt,name=kind,casttype=SyncWindowKind"`
	// Schedule is when the window opens, in the standard cron format of five fields (minute,
	// hour, day of month, month, day of week), read in spec.timeZone.
	Schedule string `json:"schedule" protobuf:"bytes,2,opt,name=schedule"`
	// Duration is how long the window stays in force after each time of the schedule, e.g. 1h.
	Duration metav1.Duration `json:"duration" protobuf:"bytes,3,opt,name=duration"`
	// TimeZone is the IANA name of the time zone the schedule is read in; default UTC.
	// +optional
	TimeZone string `json:"timeZone,omitempty" protobuf:"bytes,4,opt,name=timeZone"`
	// Selector selects the Applications of the namespace by label; {} selects all of them.
	Selector *metav1.LabelSelector `json:"selector" protobuf:"bytes,5,opt,name=selector"`
	// ManualSync lets requested syncs and rollbacks run while the window blocks syncs.
	// +optional
	ManualSync bool `json:"manualSync,omitempty" protobuf:"varint,6,opt,name=manualSync"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SyncWindowList is a list of SyncWindows.
type SyncWindowList struct {
	metav1.TypeMeta `json:",inline"`
	// Standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty" protobuf:"bytes,1,opt,name=metadata"`
	// Items are the SyncWindows.
	Items []SyncWindow `json:"items" protobuf:"bytes,2,rep,name=items"`
}
