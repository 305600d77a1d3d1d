package applicationset

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

const maxMessageColumn = 80

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the ApplicationSet."},
	{Name: "Applications", Type: "integer", Description: "Applications the set generated (status.applications)."},
	{Name: "Synced", Type: "string", Description: "How many of them are Synced."},
	{Name: "Healthy", Type: "string", Description: "How many of them are Healthy."},
	{Name: "Ready", Type: "string", Description: "Whether every set of parameters made an up-to-date Application (the Ready condition)."},
	{Name: "Age", Type: "string", Description: "Time since the ApplicationSet was created."},
	{Name: "Message", Type: "string", Priority: 1, Description: "The Ready condition's message."},
}

type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return printing.Table(obj, columnDefinitions, gitops.Resource("applicationsets"), func(o runtime.Object) ([]interface{}, bool) {
		set, ok := o.(*gitops.ApplicationSet)
		if !ok {
			return nil, false
		}
		synced, healthy := 0, 0
		for _, a := range set.Status.Applications {
			if a.Sync == gitops.SyncStatusSynced {
				synced++
			}
			if a.Health == gitops.HealthHealthy {
				healthy++
			}
		}
		n := len(set.Status.Applications)
		ready, message := "Unknown", ""
		if c := meta.FindStatusCondition(set.Status.Conditions, "Ready"); c != nil {
			ready, message = string(c.Status), c.Message
		}
		return []interface{}{set.Name, int64(n), fmt.Sprintf("%d/%d", synced, n), fmt.Sprintf("%d/%d", healthy, n), ready,
			printing.Age(set.CreationTimestamp), printing.Truncate(message, maxMessageColumn)}, true
	})
}
