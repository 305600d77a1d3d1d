package receiver

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

// maxMessageColumn keeps the MESSAGE column of `kubectl get -o wide` on one screen line.
const maxMessageColumn = 80

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Receiver."},
	{Name: "Type", Type: "string", Description: "The Git host whose webhooks it accepts (spec.type)."},
	{Name: "Path", Type: "string", Description: "The path of Ferry's webhook listener to give the Git host (status.webhookPath)."},
	{Name: "Ready", Type: "string", Description: "Whether its token is read and its path served (the Ready condition)."},
	{Name: "Age", Type: "string", Description: "Time since the Receiver was created."},
	{Name: "Message", Type: "string", Priority: 1, Description: "The Ready condition's message."},
}

// tableConvertor prints Receivers for `kubectl get`, server-side.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return printing.Table(obj, columnDefinitions, gitops.Resource("receivers"), func(o runtime.Object) ([]interface{}, bool) {
		r, ok := o.(*gitops.Receiver)
		if !ok {
			return nil, false
		}
		ready, message := "Unknown", ""
		if cond := meta.FindStatusCondition(r.Status.Conditions, "Ready"); cond != nil {
			ready, message = string(cond.Status), cond.Message
		}
		return []interface{}{r.Name, string(r.Spec.Type), r.Status.WebhookPath, ready,
			printing.Age(r.CreationTimestamp), printing.Truncate(message, maxMessageColumn)}, true
	})
}
