package syncwindow

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the SyncWindow."},
	{Name: "Kind", Type: "string", Description: "allow or deny (spec.kind)."},
	{Name: "Schedule", Type: "string", Description: "When the window opens (spec.schedule), in spec.timeZone."},
	{Name: "Duration", Type: "string", Description: "How long it stays in force (spec.duration)."},
	{Name: "Time Zone", Type: "string", Description: "The time zone the schedule is read in (spec.timeZone)."},
	{Name: "Active", Type: "string", Description: "Whether the window is in force now."},
	{Name: "Next Change", Type: "string", Description: "When it next closes (when in force) or opens."},
	{Name: "Manual Sync", Type: "string", Priority: 1, Description: "Whether requested syncs and rollbacks run while it blocks (spec.manualSync)."},
	{Name: "Age", Type: "string", Description: "Time since the SyncWindow was created."},
}

// tableConvertor prints SyncWindows for `kubectl get`, server-side, with whether each is in
// force at the time of the request.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	now := time.Now()
	return printing.Table(obj, columnDefinitions, gitops.Resource("syncwindows"), func(o runtime.Object) ([]interface{}, bool) {
		w, ok := o.(*gitops.SyncWindow)
		if !ok {
			return nil, false
		}
		active, next := "Unknown", ""
		if in, change, err := syncwindow.InForce(now, w.Spec.Schedule, w.Spec.TimeZone, w.Spec.Duration.Duration); err == nil {
			active, next = "false", "never"
			if in {
				active, next = "true", "no end in sight"
			}
			if !change.IsZero() {
				next = change.UTC().Format(time.RFC3339)
			}
		}
		manual := "false"
		if w.Spec.ManualSync {
			manual = "true"
		}
		return []interface{}{w.Name, string(w.Spec.Kind), w.Spec.Schedule, w.Spec.Duration.Duration.String(), w.Spec.TimeZone,
			active, next, manual, printing.Age(w.CreationTimestamp)}, true
	})
}
