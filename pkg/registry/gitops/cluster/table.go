package cluster

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

// maxMessageColumn keeps the MESSAGE column of `kubectl get -o wide` on one screen line.
const maxMessageColumn = 80

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the Cluster."},
	{Name: "Server", Type: "string", Description: "URL of the cluster's kube-apiserver (spec.server)."},
	{Name: "Version", Type: "string", Description: "Kubernetes version the cluster reported (status.kubernetesVersion)."},
	{Name: "Ready", Type: "string", Description: "Whether Ferry reached the cluster at the last probe (the Ready condition)."},
	{Name: "Apps", Type: "integer", Description: "Applications that target the cluster (status.applications)."},
	{Name: "Age", Type: "string", Description: "Time since the Cluster was registered."},
	{Name: "Message", Type: "string", Priority: 1, Description: "The Ready condition's message."},
}

// tableConvertor prints Clusters for `kubectl get`, server-side.
type tableConvertor struct{}

func (tableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return printing.Table(obj, columnDefinitions, gitops.Resource("clusters"), func(o runtime.Object) ([]interface{}, bool) {
		c, ok := o.(*gitops.Cluster)
		if !ok {
			return nil, false
		}
		ready, message := "Unknown", ""
		if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ClusterConditionReady); cond != nil {
			ready, message = string(cond.Status), cond.Message
		}
		return []interface{}{c.Name, c.Spec.Server, c.Status.KubernetesVersion, ready, int64(c.Status.Applications),
			printing.Age(c.CreationTimestamp), printing.Truncate(message, maxMessageColumn)}, true
	})
}
