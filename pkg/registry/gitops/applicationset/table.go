package applicationset

import (
	"context"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/errors"
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
	table := &metav1.Table{ColumnDefinitions: columnDefinitions}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	var sets []gitops.ApplicationSet
	switch t := obj.(type) {
	case *gitops.ApplicationSet:
		sets = []gitops.ApplicationSet{*t}
	case *gitops.ApplicationSetList:
		sets = t.Items
	default:
		return nil, errors.NewGenericServerResponse(http.StatusInternalServerError, "get", gitops.Resource("applicationsets"), "", fmt.Sprintf("cannot print %T as a table", obj), 0, false)
	}
	table.Rows = make([]metav1.TableRow, 0, len(sets))
	for i := range sets {
		set := &sets[i]
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
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: set},
			Cells: []interface{}{set.Name, int64(n), fmt.Sprintf("%d/%d", synced, n), fmt.Sprintf("%d/%d", healthy, n), ready,
				printing.Age(set.CreationTimestamp), printing.Truncate(message, maxMessageColumn)},
		})
	}
	return table, nil
}
