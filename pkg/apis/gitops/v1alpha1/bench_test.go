package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// largeApplication is an Application managing n objects with realistic names, every condition
// with a 1 KiB message and a full history with 256-byte messages; deterministic (fixed
// timestamps), with printable messages.
func largeApplication(n int) *v1alpha1.Application {
	at := metav1.NewTime(time.Date(2025, 3, 9, 8, 0, 0, 0, time.UTC))
	sha := strings.Repeat("3f9a1c7e", 5)
	app := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{
			Name: "platform", Namespace: "team-platform", UID: "6f1c2f9e-8a3b-4d0c-9d5e-2b7a1c3e4f50",
			ResourceVersion: "48213377", Generation: 12, CreationTimestamp: at,
			Labels: map[string]string{"team": "platform", "env": "prod"},
		},
		Spec: v1alpha1.ApplicationSpec{
			Source:      v1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/platform.git", Revision: "main", Path: "clusters/prod"},
			Destination: v1alpha1.ApplicationDestination{Namespace: "tenant-000"},
		},
		Status: v1alpha1.ApplicationStatus{
			ObservedGeneration: 12,
			SourceRevision:     sha,
			Sync:               v1alpha1.SyncStatus{Status: v1alpha1.SyncStatusOutOfSync, Revision: sha},
			Health:             v1alpha1.HealthStatus{Status: v1alpha1.HealthProgressing, Message: "Deployment/service-component-00001: Deployment is rolling out"},
			ReconciledAt:       &at,
		},
	}
	kinds := []struct{ group, version, kind string }{
		{"", "v1", "ConfigMap"}, {"apps", "v1", "Deployment"}, {"", "v1", "Service"},
		{"networking.k8s.io", "v1", "Ingress"}, {"rbac.authorization.k8s.io", "v1", "RoleBinding"},
	}
	app.Status.Resources = make([]v1alpha1.ResourceStatus, n)
	for i := range app.Status.Resources {
		k := kinds[i%len(kinds)]
		r := v1alpha1.ResourceStatus{
			Group: k.group, Version: k.version, Kind: k.kind,
			Namespace: fmt.Sprintf("tenant-%03d", i%200), Name: fmt.Sprintf("service-component-%05d", i),
			Status: v1alpha1.SyncStatusSynced, Health: v1alpha1.HealthHealthy,
		}
		if i%50 == 1 {
			r.Status, r.Health = v1alpha1.SyncStatusOutOfSync, v1alpha1.HealthProgressing
		}
		app.Status.Resources[i] = r
	}
	message := func(n int) string {
		return strings.Repeat("apply of 5000 objects: ", n/23+1)[:n]
	}
	for _, c := range []string{v1alpha1.ConditionReady, v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled, v1alpha1.ConditionSynced, v1alpha1.ConditionHealthy} {
		app.Status.Conditions = append(app.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, ObservedGeneration: 12, LastTransitionTime: at, Reason: "Succeeded", Message: message(1024)})
	}
	for i := 0; i < v1alpha1.MaxHistory; i++ {
		app.Status.History = append(app.Status.History, v1alpha1.OperationRecord{
			ID: fmt.Sprintf("%036d", i), Phase: v1alpha1.OperationSucceeded, Revision: "main", SyncedRevision: sha,
			RequestedBy: "someone@example.com", RequestedAt: &at, FinishedAt: &at, Message: message(256),
		})
	}
	return app
}

const inventorySize = 5000

// BenchmarkLargeStatus encodes and decodes a 5,000-object Application in JSON and protobuf (the
// API server's storage encoding) and reports the encoded size: etcd refuses requests over
// 1.5 MiB.
func BenchmarkLargeStatus(b *testing.B) {
	app := largeApplication(inventorySize)
	type codec struct {
		name   string
		encode func(*v1alpha1.Application) ([]byte, error)
		decode func([]byte, *v1alpha1.Application) error
	}
	for _, c := range []codec{
		{"json", func(a *v1alpha1.Application) ([]byte, error) { return json.Marshal(a) }, func(d []byte, a *v1alpha1.Application) error { return json.Unmarshal(d, a) }},
		{"protobuf", (*v1alpha1.Application).Marshal, func(d []byte, a *v1alpha1.Application) error { return a.Unmarshal(d) }},
	} {
		data, err := c.encode(app)
		if err != nil {
			b.Fatal(err)
		}
		var back v1alpha1.Application
		if err := c.decode(data, &back); err != nil {
			b.Fatal(err)
		}
		if !apiequality.Semantic.DeepEqual(app, &back) {
			b.Fatalf("%s round trip changed the Application", c.name)
		}
		unit := "bytes/" + c.name

		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if data, err = c.encode(app); err != nil || len(data) == 0 {
					b.Fatalf("encoded %d bytes: %v", len(data), err)
				}
			}
			b.ReportMetric(float64(len(data)), unit)
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var out v1alpha1.Application
				if err := c.decode(data, &out); err != nil || len(out.Status.Resources) != inventorySize {
					b.Fatalf("decoded %d resources: %v", len(out.Status.Resources), err)
				}
			}
			b.ReportMetric(float64(len(data)), unit)
		})
	}
}
