package application_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

// noStorage gives the registry no storage backend: table conversion never reads etcd, so the
// benchmark needs none.
type noStorage struct{}

func (noStorage) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig: (&storagebackend.Config{}).ForResource(resource),
		Decorator: func(*storagebackend.ConfigForResource, string, func(runtime.Object) (string, error), func() runtime.Object, func() runtime.Object, storage.AttrFunc, storage.IndexerFuncs, *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
			return nil, func() {}, nil
		},
		ResourcePrefix: resource.Group + "/" + resource.Resource,
	}, nil
}

// benchApplication is an Application as the controller leaves it: synced or not, an inventory,
// the five conditions, and now and then a running sync or a Ready message too long for the
// MESSAGE column.
func benchApplication(i int) gitops.Application {
	app := validApplication(fmt.Sprintf("team-%02d", i%40), fmt.Sprintf("service-%04d", i))
	app.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Duration(i+1) * 37 * time.Minute))
	app.Spec.Source.RepoURL = fmt.Sprintf("https://git.example.com/org/team-%02d.git", i%40)
	app.Spec.Source.Path = fmt.Sprintf("apps/service-%04d/overlays/prod", i)
	st := &app.Status
	st.ObservedGeneration = 3
	st.SourceRevision = strings.Repeat("3f9a1c7e", 5)
	st.Sync = gitops.SyncStatus{Status: gitops.SyncStatusSynced, Revision: st.SourceRevision}
	st.Health = gitops.HealthStatus{Status: gitops.HealthHealthy}
	ready := "Applied revision 3f9a1c7e3f9a1c7e3f9a1c7e3f9a1c7e3f9a1c7e: 25 objects"
	switch {
	case i%10 == 3:
		st.Sync.Status, st.Health = gitops.SyncStatusOutOfSync, gitops.HealthStatus{Status: gitops.HealthDegraded, Message: "Deployment/web: Progress deadline exceeded"}
		ready = "Deployment/web: Progress deadline exceeded — ReplicaSet “web-5c4f9b8d7” has timed out progressing; 1 of 3 replicas available"
	case i%20 == 7:
		st.Operation = &gitops.Operation{ID: fmt.Sprintf("%036d", i), Phase: gitops.OperationRunning, RequestedBy: gitops.RequestedBy{Username: "someone@example.com"}, RequestedAt: app.CreationTimestamp}
	}
	for _, c := range []string{"Ready", "Reconciling", "Stalled", "Synced", "Healthy"} {
		msg := "Succeeded"
		if c == "Ready" {
			msg = ready
		}
		st.Conditions = append(st.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: msg, LastTransitionTime: app.CreationTimestamp})
	}
	for j := 0; j < 25; j++ {
		st.Resources = append(st.Resources, gitops.ResourceStatus{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: app.Namespace, Name: fmt.Sprintf("web-%02d", j), Status: gitops.SyncStatusSynced, Health: gitops.HealthHealthy})
	}
	return *app
}

func BenchmarkConvertToTable(b *testing.B) {
	st, err := application.NewStorage(apiserver.Scheme, noStorage{}, application.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Application.DestroyFunc)
	ctx := ctxFor("", nil)

	one := benchApplication(3)
	list := &gitops.ApplicationList{ListMeta: metav1.ListMeta{ResourceVersion: "48213377"}}
	for i := 0; i < 1000; i++ {
		list.Items = append(list.Items, benchApplication(i))
	}
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		rows int
		row3 int // the row of benchApplication(3)
	}{
		{"applications=1", &one, 1, 0},
		{"applications=1000", list, 1000, 3},
	} {
		b.Run(tc.name, func(b *testing.B) {
			table, err := st.Application.ConvertToTable(ctx, tc.obj, nil)
			if err != nil {
				b.Fatal(err)
			}
			if len(table.Rows) != tc.rows || len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
				b.Fatalf("%d rows of %d cells, want %d rows", len(table.Rows), len(table.Rows[0].Cells), tc.rows)
			}
			// benchApplication(3) is Degraded, with a message to truncate.
			cells := table.Rows[tc.row3].Cells
			if msg := cells[7].(string); cells[3] != "Degraded" || utf8.RuneCountInString(msg) != 80 || !strings.HasSuffix(msg, "…") {
				b.Fatalf("row = %v", cells)
			}
			b.ReportAllocs()
			for b.Loop() {
				if table, err = st.Application.ConvertToTable(ctx, tc.obj, nil); err != nil || len(table.Rows) != tc.rows {
					b.Fatalf("%d rows: %v", len(table.Rows), err)
				}
			}
		})
	}
}
