package health

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const benchDeploymentCurrent = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 7}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.example.com/shop/web:v1.4.2"}]}
status:
  observedGeneration: 7
  replicas: 3
  updatedReplicas: 3
  readyReplicas: 3
  availableReplicas: 3
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability.}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable, message: ReplicaSet "web-7d9c8b6f5d" has successfully progressed.}
`

// benchDeploymentRolling is halfway through a rollout: one of three replicas updated.
const benchDeploymentRolling = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 8}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "registry.example.com/shop/web:v1.5.0"}]}
status:
  observedGeneration: 8
  replicas: 4
  updatedReplicas: 1
  readyReplicas: 3
  availableReplicas: 3
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability.}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated, message: ReplicaSet "web-5c4f9b8d7" is progressing.}
`

func benchObj(b *testing.B, y string) *unstructured.Unstructured {
	b.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		b.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		b.Fatal(err)
	}
	return u
}

func BenchmarkOfDeployment(b *testing.B) {
	for _, tc := range []struct {
		name string
		y    string
		want gitopsv1alpha1.HealthStatusCode
	}{
		{"Current", benchDeploymentCurrent, gitopsv1alpha1.HealthHealthy},
		{"InProgress", benchDeploymentRolling, gitopsv1alpha1.HealthProgressing},
	} {
		b.Run(tc.name, func(b *testing.B) {
			o := benchObj(b, tc.y)
			if got := Of(o); got.Code != tc.want {
				b.Fatalf("health = %s (%s), want %s", got.Code, got.Message, tc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				if got := Of(o); got.Code != tc.want {
					b.Fatalf("health = %s, want %s", got.Code, tc.want)
				}
			}
		})
	}
}

// benchInventory is n object healths as a large Application has them: mostly Healthy, some
// Progressing and Suspended, and a single Degraded object last, so the whole set is walked and
// the worst one changes more than once.
func benchInventory(n int) []Named {
	kinds := []string{"ConfigMap", "Deployment", "Service", "Ingress", "RoleBinding"}
	objs := make([]Named, n)
	for i := range objs {
		s := Status{Code: gitopsv1alpha1.HealthHealthy}
		switch {
		case i == n-1:
			s = Status{Code: gitopsv1alpha1.HealthDegraded, Message: "Progress deadline exceeded"}
		case i%100 == 7:
			s = Status{Code: gitopsv1alpha1.HealthProgressing, Message: "Deployment is rolling out: 1 of 3 updated"}
		case i%250 == 3:
			s = Status{Code: gitopsv1alpha1.HealthSuspended, Message: "Deployment is paused"}
		}
		objs[i] = Named{Name: fmt.Sprintf("%s/service-component-%05d", kinds[i%len(kinds)], i), Status: s}
	}
	return objs
}

func BenchmarkAggregate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			objs := benchInventory(n)
			want := objs[n-1].Name + ": " + objs[n-1].Status.Message
			if got := Aggregate(objs); got.Code != gitopsv1alpha1.HealthDegraded || got.Message != want {
				b.Fatalf("aggregate = %+v, want Degraded %q", got, want)
			}
			b.ReportAllocs()
			for b.Loop() {
				if got := Aggregate(objs); got.Code != gitopsv1alpha1.HealthDegraded {
					b.Fatalf("aggregate = %s", got.Code)
				}
			}
		})
	}
}
