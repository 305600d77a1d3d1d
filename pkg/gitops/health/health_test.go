package health

import (
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func obj(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestOf(t *testing.T) {
	cases := map[string]struct {
		y    string
		want gitopsv1alpha1.HealthStatusCode
	}{
		"configmap": {"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, generation: 1}\n", gitopsv1alpha1.HealthHealthy},
		"deployment available": {`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 2}
status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, readyReplicas: 2, availableReplicas: 2,
  conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}
`, gitopsv1alpha1.HealthHealthy},
		"deployment rolling": {`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 3}
spec: {replicas: 2}
status: {observedGeneration: 2, replicas: 2}
`, gitopsv1alpha1.HealthProgressing},
		"deployment stuck": {`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, generation: 2}
spec: {replicas: 2}
status: {observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 0,
  conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded}]}
`, gitopsv1alpha1.HealthDegraded},
		"deployment paused": {"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {paused: true}\n", gitopsv1alpha1.HealthSuspended},
		"job running": {`apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
status: {active: 1, startTime: "2026-12-01T00:00:00Z", conditions: []}
`, gitopsv1alpha1.HealthProgressing},
		"job complete": {`apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
status: {succeeded: 1, conditions: [{type: SuccessCriteriaMet, status: "True"}, {type: Complete, status: "True"}]}
`, gitopsv1alpha1.HealthHealthy},
		"job failed": {`apiVersion: batch/v1
kind: Job
metadata: {name: migrate, generation: 1}
status: {failed: 1, conditions: [{type: FailureTarget, status: "True"}, {type: Failed, status: "True", reason: BackoffLimitExceeded}]}
`, gitopsv1alpha1.HealthDegraded},
		"cronjob suspended": {"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c}\nspec: {suspend: true}\n", gitopsv1alpha1.HealthSuspended},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Of(obj(t, tc.y)); got.Code != tc.want {
				t.Errorf("health = %s (%s), want %s", got.Code, got.Message, tc.want)
			}
		})
	}
	if got := Of(nil); got.Code != gitopsv1alpha1.HealthMissing {
		t.Errorf("missing object: %s", got.Code)
	}
}

func TestAggregateWorstWins(t *testing.T) {
	got := Aggregate([]Named{
		{"ConfigMap/a", Status{Code: gitopsv1alpha1.HealthHealthy}},
		{"Deployment/web", Status{Code: gitopsv1alpha1.HealthProgressing, Message: "rolling"}},
		{"Deployment/api", Status{Code: gitopsv1alpha1.HealthDegraded, Message: "deadline exceeded"}},
		{"CronJob/c", Status{Code: gitopsv1alpha1.HealthSuspended}},
	})
	if got.Code != gitopsv1alpha1.HealthDegraded || got.Message != "Deployment/api: deadline exceeded" {
		t.Errorf("aggregate = %+v", got)
	}
	if got := Aggregate(nil); got.Code != gitopsv1alpha1.HealthHealthy {
		t.Errorf("empty = %s", got.Code)
	}
	order := []gitopsv1alpha1.HealthStatusCode{gitopsv1alpha1.HealthHealthy, gitopsv1alpha1.HealthSuspended, gitopsv1alpha1.HealthProgressing, gitopsv1alpha1.HealthUnknown, gitopsv1alpha1.HealthMissing, gitopsv1alpha1.HealthDegraded}
	for i := 1; i < len(order); i++ {
		if !IsWorse(order[i], order[i-1]) || IsWorse(order[i-1], order[i]) {
			t.Errorf("%s should be worse than %s", order[i], order[i-1])
		}
	}
}
