package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestStatusOfALargeApplicationStaysSmall: etcd refuses objects over 1.5 MiB, where Argo CD's
// Applications break near 3,000 resources. An Application managing 5,000 objects with realistic
// names, a full history and every condition must stay well under 1 MiB in JSON and protobuf.
func TestStatusOfALargeApplicationStaysSmall(t *testing.T) {
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "platform", Namespace: "team-platform"},
		Spec:       v1alpha1.ApplicationSpec{Source: v1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/platform.git", Path: "clusters/prod"}},
	}
	kinds := []struct{ group, version, kind string }{
		{"", "v1", "ConfigMap"}, {"apps", "v1", "Deployment"}, {"", "v1", "Service"},
		{"networking.k8s.io", "v1", "Ingress"}, {"rbac.authorization.k8s.io", "v1", "RoleBinding"},
	}
	for i := 0; i < 5000; i++ {
		k := kinds[i%len(kinds)]
		app.Status.Resources = append(app.Status.Resources, v1alpha1.ResourceStatus{
			Group: k.group, Version: k.version, Kind: k.kind,
			Namespace: fmt.Sprintf("tenant-%03d", i%200), Name: fmt.Sprintf("service-component-%05d", i),
			Status: v1alpha1.SyncStatusSynced, Health: v1alpha1.HealthHealthy,
		})
	}
	for _, c := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled, v1alpha1.ConditionSynced, v1alpha1.ConditionHealthy} {
		app.Status.Conditions = append(app.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: string(make([]byte, 1024))})
	}
	for i := 0; i < v1alpha1.MaxHistory; i++ {
		now := metav1.Now()
		app.Status.History = append(app.Status.History, v1alpha1.OperationRecord{ID: fmt.Sprintf("%036d", i), Phase: v1alpha1.OperationSucceeded, RequestedBy: "someone@example.com", RequestedAt: &now, FinishedAt: &now, Message: string(make([]byte, 256))})
	}
	j, err := json.Marshal(app)
	if err != nil {
		t.Fatal(err)
	}
	p, err := app.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("5,000-object Application: %d KiB JSON, %d KiB protobuf", len(j)>>10, len(p)>>10)
	if len(j) >= 1<<20 || len(p) >= 1<<20 {
		t.Errorf("5,000-object Application is %d bytes JSON, %d protobuf: over 1 MiB", len(j), len(p))
	}
}
