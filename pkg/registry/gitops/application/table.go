package application

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

// maxMessageColumn keeps the MESSAGE column of `kubectl get -o wide` on one screen line.
const maxMessageColumn = 80

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Application."},
	{Name: "Revision", Type: "string", Description: "The branch, tag or commit the Application deploys (spec.source.revision)."},
	{Name: "Sync", Type: "string", Description: "Whether the deployed objects match Git (status.sync.status)."},
	{Name: "Health", Type: "string", Description: "Aggregated health of the deployed objects (status.health.status)."},
	{Name: "Age", Type: "string", Description: "Time since the Application was created."},
	{Name: "Repo", Type: "string", Priority: 1, Description: "The Git repository (spec.source.repoURL)."},
	{Name: "Path", Type: "string", Priority: 1, Description: "The directory in the repository (spec.source.path)."},
	{Name: "Message", Type: "string", Priority: 1, Description: "The Ready condition's message, or the current operation's."},
}

// tableConvertor prints Applications for `kubectl get`, server-side.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columnDefinitions}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	var apps []gitops.Application
	switch t := obj.(type) {
	case *gitops.Application:
		apps = []gitops.Application{*t}
	case *gitops.ApplicationList:
		apps = t.Items
	default:
		return nil, errors.NewGenericServerResponse(http.StatusInternalServerError, "get", gitops.Resource("applications"), "", fmt.Sprintf("cannot print %T as a table", obj), 0, false)
	}
	table.Rows = make([]metav1.TableRow, 0, len(apps))
	for i := range apps {
		app := &apps[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: app},
			Cells: []interface{}{
				app.Name,
				app.Spec.Source.Revision,
				printing.OrUnknown(string(app.Status.Sync.Status)),
				printing.OrUnknown(string(app.Status.Health.Status)),
				printing.Age(app.CreationTimestamp),
				app.Spec.Source.RepoURL,
				app.Spec.Source.Path,
				printing.Truncate(statusMessage(app), maxMessageColumn),
			},
		})
	}
	return table, nil
}

// statusMessage is what a user most wants to read next to the columns: a running operation, or
// why the Application is not Ready.
func statusMessage(app *gitops.Application) string {
	if op := app.Status.Operation; op != nil && (op.Phase == gitops.OperationPending || op.Phase == gitops.OperationRunning) {
		return fmt.Sprintf("sync %s (requested by %s)", op.Phase, op.RequestedBy.Username)
	}
	if c := meta.FindStatusCondition(app.Status.Conditions, "Ready"); c != nil {
		return c.Message
	}
	return ""
}
