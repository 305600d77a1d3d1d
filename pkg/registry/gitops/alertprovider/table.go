package alertprovider

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

const maxMessageColumn = 80

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the AlertProvider."},
	{Name: "Type", Type: "string", Description: "Kind of provider (spec.type)."},
	{Name: "Address", Type: "string", Description: "Where alerts go (spec.address); empty when the Secret holds it."},
	{Name: "Ready", Type: "string", Description: "Whether the provider is usable (the Ready condition)."},
	{Name: "Age", Type: "string", Description: "Time since the AlertProvider was created."},
	{Name: "Message", Type: "string", Priority: 1, Description: "The Ready condition's message."},
}

// tableConvertor prints AlertProviders for `kubectl get`, server-side.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return printing.Table(obj, columnDefinitions, gitops.Resource("alertproviders"), func(o runtime.Object) ([]interface{}, bool) {
		p, ok := o.(*gitops.AlertProvider)
		if !ok {
			return nil, false
		}
		ready, message := "Unknown", ""
		if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.AlertConditionReady); c != nil {
			ready, message = string(c.Status), c.Message
		}
		return []interface{}{p.Name, string(p.Spec.Type), p.Spec.Address, ready,
			printing.Age(p.CreationTimestamp), printing.Truncate(message, maxMessageColumn)}, true
	})
}
