package alert

import (
	"context"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

const maxMessageColumn = 80

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Alert."},
	{Name: "Provider", Type: "string", Description: "The AlertProvider alerts go to (spec.providerRef.name)."},
	{Name: "Triggers", Type: "string", Description: "What is reported (spec.triggers)."},
	{Name: "Ready", Type: "string", Description: "Whether the Alert is reporting (the Ready condition)."},
	{Name: "Delivered", Type: "string", Description: "Whether the last delivery succeeded (the Delivered condition)."},
	{Name: "Age", Type: "string", Description: "Time since the Alert was created."},
	{Name: "Message", Type: "string", Priority: 1, Description: "Why the last delivery failed, else the Ready condition's message."},
}

// tableConvertor prints Alerts for `kubectl get`, server-side.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return printing.Table(obj, columnDefinitions, gitops.Resource("alerts"), func(o runtime.Object) ([]interface{}, bool) {
		a, ok := o.(*gitops.Alert)
		if !ok {
			return nil, false
		}
		ready, delivered, message := "Unknown", "", ""
		if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.AlertConditionReady); c != nil {
			ready, message = string(c.Status), c.Message
		}
		if c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.AlertConditionDelivered); c != nil {
			delivered = string(c.Status)
			if c.Status == metav1.ConditionFalse {
				message = c.Message
			}
		}
		triggers := make([]string, len(a.Spec.Triggers))
		for i, t := range a.Spec.Triggers {
			triggers[i] = string(t)
		}
		return []interface{}{a.Name, a.Spec.ProviderRef.Name, strings.Join(triggers, ","), ready, delivered,
			printing.Age(a.CreationTimestamp), printing.Truncate(message, maxMessageColumn)}, true
	})
}
