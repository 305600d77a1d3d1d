package cluster

import (
	"context"
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/errors"
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
	table := &metav1.Table{ColumnDefinitions: columnDefinitions}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.ResourceVersion = m.GetResourceVersion()
		table.Continue = m.GetContinue()
		table.RemainingItemCount = m.GetRemainingItemCount()
	}
	var clusters []gitops.Cluster
	switch t := obj.(type) {
	case *gitops.Cluster:
		clusters = []gitops.Cluster{*t}
	case *gitops.ClusterList:
		clusters = t.Items
	default:
		return nil, errors.NewGenericServerResponse(http.StatusInternalServerError, "get", gitops.Resource("clusters"), "", fmt.Sprintf("cannot print %T as a table", obj), 0, false)
	}
	table.Rows = make([]metav1.TableRow, 0, len(clusters))
	for i := range clusters {
		c := &clusters[i]
		ready, message := "Unknown", ""
		if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ClusterConditionReady); cond != nil {
			ready, message = string(cond.Status), cond.Message
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Object: runtime.RawExtension{Object: c},
			Cells: []interface{}{
				c.Name,
				c.Spec.Server,
				c.Status.KubernetesVersion,
				ready,
				int64(c.Status.Applications),
				printing.Age(c.CreationTimestamp),
				printing.Truncate(message, maxMessageColumn),
			},
		})
	}
	return table, nil
}
