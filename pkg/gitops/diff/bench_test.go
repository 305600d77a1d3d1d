package diff

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// benchLiveDeployment is a Deployment as the API server returns it: managedFields of two
// managers, kubectl's last-applied record, status, and the server-set metadata.
const benchLiveDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  uid: 6f1c2f9e-8a3b-4d0c-9d5e-2b7a1c3e4f50
  resourceVersion: "48213377"
  generation: 7
  creationTimestamp: "2025-03-02T10:15:00Z"
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/part-of: shop
    gitops.ferry.dev/application: shop.web
  annotations:
    deployment.kubernetes.io/revision: "7"
    gitops.ferry.dev/tracking-id: shop/web:apps/Deployment:shop/web
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"annotations":{},"labels":{"app.kubernetes.io/name":"web"},"name":"web","namespace":"shop"},"spec":{"replicas":3,"selector":{"matchLabels":{"app.kubernetes.io/name":"web"}},"template":{"metadata":{"labels":{"app.kubernetes.io/name":"web"}},"spec":{"containers":[{"image":"registry.example.com/shop/web:v1.4.2","name":"web"}]}}}}
  managedFields:
  - manager: ferry
    operation: Apply
    apiVersion: apps/v1
    time: "2025-03-09T08:00:00Z"
    fieldsType: FieldsV1
    fieldsV1:
      f:metadata:
        f:annotations:
          f:gitops.ferry.dev/tracking-id: {}
        f:labels:
          f:app.kubernetes.io/name: {}
          f:app.kubernetes.io/part-of: {}
          f:gitops.ferry.dev/application: {}
      f:spec:
        f:replicas: {}
        f:selector: {}
        f:template:
          f:metadata:
            f:labels:
              f:app.kubernetes.io/name: {}
          f:spec:
            f:containers:
              k:{"name":"web"}:
                .: {}
                f:env:
                  k:{"name":"LOG_LEVEL"}:
                    .: {}
                    f:name: {}
                    f:value: {}
                f:image: {}
                f:name: {}
                f:ports:
                  k:{"containerPort":8080,"protocol":"TCP"}:
                    .: {}
                    f:containerPort: {}
                    f:name: {}
                f:readinessProbe:
                  f:httpGet:
                    f:path: {}
                    f:port: {}
                f:resources:
                  f:limits:
                    f:memory: {}
                  f:requests:
                    f:cpu: {}
                    f:memory: {}
  - manager: kube-controller-manager
    operation: Update
    apiVersion: apps/v1
    time: "2025-03-09T08:01:12Z"
    fieldsType: FieldsV1
    subresource: status
    fieldsV1:
      f:metadata:
        f:annotations:
          f:deployment.kubernetes.io/revision: {}
      f:status:
        f:availableReplicas: {}
        f:conditions: {}
        f:observedGeneration: {}
        f:readyReplicas: {}
        f:replicas: {}
        f:updatedReplicas: {}
spec:
  replicas: 3
  revisionHistoryLimit: 10
  progressDeadlineSeconds: 600
  selector:
    matchLabels:
      app.kubernetes.io/name: web
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: web
    spec:
      restartPolicy: Always
      terminationGracePeriodSeconds: 30
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      securityContext: {}
      containers:
      - name: web
        image: registry.example.com/shop/web:v1.4.2
        imagePullPolicy: IfNotPresent
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        env:
        - {name: LOG_LEVEL, value: info}
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: 8080, scheme: HTTP}
          periodSeconds: 10
          timeoutSeconds: 1
          successThreshold: 1
          failureThreshold: 3
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
status:
  observedGeneration: 7
  replicas: 3
  updatedReplicas: 3
  readyReplicas: 3
  availableReplicas: 3
  conditions:
  - type: Available
    status: "True"
    lastUpdateTime: "2025-03-09T08:01:12Z"
    lastTransitionTime: "2025-03-02T10:15:30Z"
    reason: MinimumReplicasAvailable
    message: Deployment has minimum availability.
  - type: Progressing
    status: "True"
    lastUpdateTime: "2025-03-09T08:01:12Z"
    lastTransitionTime: "2025-03-02T10:15:00Z"
    reason: NewReplicaSetAvailable
    message: ReplicaSet "web-7d9c8b6f5d" has successfully progressed.
`

func benchObject(b *testing.B, y string) *unstructured.Unstructured {
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

// liveAndDesired returns the live Deployment and what Git holds for it: the same spec without
// the server's fields, and a new image tag.
func liveAndDesired(b *testing.B) (live, desired *unstructured.Unstructured) {
	live = benchObject(b, benchLiveDeployment)
	desired = Normalize(live)
	containers, _, _ := unstructured.NestedSlice(desired.Object, "spec", "template", "spec", "containers")
	containers[0].(map[string]any)["image"] = "registry.example.com/shop/web:v1.5.0"
	if err := unstructured.SetNestedSlice(desired.Object, containers, "spec", "template", "spec", "containers"); err != nil {
		b.Fatal(err)
	}
	return live, desired
}

func BenchmarkNormalizeDeployment(b *testing.B) {
	live, _ := liveAndDesired(b)
	j, err := live.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	if n := Normalize(live); n.GetManagedFields() != nil || n.Object["status"] != nil || n.GetResourceVersion() != "" {
		b.Fatalf("Normalize kept server fields: %v", n.Object["metadata"])
	}
	b.ReportAllocs()
	for b.Loop() {
		if Normalize(live) == nil {
			b.Fatal("Normalize returned nil")
		}
	}
	// After the loop: b.Loop's first call resets the timer, which drops reported metrics.
	b.ReportMetric(float64(len(j)), "bytes/live-json")
}

func BenchmarkUnifiedOneChangedField(b *testing.B) {
	live, desired := liveAndDesired(b)
	d, err := Unified(live, desired)
	if err != nil {
		b.Fatal(err)
	}
	if !strings.Contains(d, "-        image: registry.example.com/shop/web:v1.4.2") || !strings.Contains(d, "+        image: registry.example.com/shop/web:v1.5.0") || strings.Count(d, "\n+") != 2 {
		b.Fatalf("diff is not the one image change:\n%s", d)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, err = Unified(live, desired); err != nil || d == "" {
			b.Fatalf("diff %q: %v", d, err)
		}
	}
	b.ReportMetric(float64(len(d)), "bytes/diff")
}

func benchSecret() *unstructured.Unstructured {
	data := map[string]any{}
	for i := 0; i < 10; i++ {
		data[fmt.Sprintf("key-%02d", i)] = base64.StdEncoding.EncodeToString([]byte(strings.Repeat(fmt.Sprint(i), 32)))
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": "db", "namespace": "shop", "annotations": map[string]any{
			lastApplied: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{"key-00":"MDAw"}}`,
		}},
		"data": data,
	}}
}

func BenchmarkMaskSecret10Keys(b *testing.B) {
	masked := base64.StdEncoding.EncodeToString([]byte(Mask))
	s := benchSecret()
	MaskSecret(s)
	data, _, _ := unstructured.NestedStringMap(s.Object, "data")
	for k, v := range data {
		if v != masked {
			b.Fatalf("%s not masked: %q", k, v)
		}
	}
	if len(data) != 10 || s.GetAnnotations()[lastApplied] != "" {
		b.Fatalf("%d keys, last-applied %q", len(data), s.GetAnnotations()[lastApplied])
	}

	// MaskSecret works in place: each iteration masks a fresh copy, made with the timer stopped.
	template := benchSecret()
	var fresh []*unstructured.Unstructured
	b.ReportAllocs()
	for b.Loop() {
		if len(fresh) == 0 {
			b.StopTimer()
			for i := 0; i < 1024; i++ {
				fresh = append(fresh, template.DeepCopy())
			}
			b.StartTimer()
		}
		MaskSecret(fresh[len(fresh)-1])
		fresh = fresh[:len(fresh)-1]
	}
}
