package application

import (
	"context"
	"fmt"

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
	return printing.Table(obj, columnDefinitions, gitops.Resource("applications"), func(o runtime.Object) ([]interface{}, bool) {
		app, ok := o.(*gitops.Application)
		if !ok {
			return nil, false
		}
		// Several sources show their first rendered one, and how many more there are.
		src := gitops.PrimarySource(&app.Spec)
		repo := src.RepoURL
		if n := len(app.Spec.Sources); n > 1 {
			repo += fmt.Sprintf(" (+%d)", n-1)
		}
		return []interface{}{
			app.Name,
			src.Revision,
			printing.OrUnknown(string(app.Status.Sync.Status)),
			printing.OrUnknown(string(app.Status.Health.Status)),
			printing.Age(app.CreationTimestamp),
			repo,
			src.Path,
			printing.Truncate(statusMessage(app), maxMessageColumn),
		}, true
	})
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
