package faults

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/testing/inprocess"
)

// TestConcurrentSyncRequestsAcceptOnePerApplication: 1,000 sync requests at once over 100
// Applications, ten each. With no controller to run them, a sync request stays Pending, so
// exactly one per Application is accepted (201) and the nine others are refused with 409; the
// accepted one is the operation the Application records. None is lost, none doubled.
func TestConcurrentSyncRequestsAcceptOnePerApplication(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a ferry-apiserver with an embedded etcd; skipped with -short")
	}
	const apps, perApp = 100, 10
	// The server alone, with its own etcd and no controller: operations stay Pending.
	srv := inprocess.Start(t, inprocess.Options{})
	client := srv.Client.GitopsV1alpha1().Applications("load")
	ctx := context.Background()
	for i := 0; i < apps; i++ {
		app := &gitopsv1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Namespace: "load", Name: fmt.Sprintf("app-%03d", i)},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/org/apps.git", Path: fmt.Sprintf("apps/%03d", i)},
				Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "load"},
			},
		}
		if _, err := client.Create(ctx, app, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	type outcome struct {
		app, id string
		err     error
	}
	results := make(chan outcome, apps*perApp)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < apps; i++ {
		for j := 0; j < perApp; j++ {
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				got, err := client.Sync(ctx, name, &gitopsv1alpha1.ApplicationSync{}, metav1.CreateOptions{})
				o := outcome{app: name, err: err}
				if err == nil {
					o.id = got.Status.OperationID
				}
				results <- o
			}(fmt.Sprintf("app-%03d", i))
		}
	}
	began := time.Now()
	close(start)
	wg.Wait()
	close(results)
	took := time.Since(began)

	accepted := map[string][]string{}
	conflicts := 0
	for o := range results {
		switch {
		case o.err == nil:
			accepted[o.app] = append(accepted[o.app], o.id)
		case apierrors.IsConflict(o.err):
			conflicts++
		default:
			t.Errorf("%s: %v (want 201 or 409)", o.app, o.err)
		}
	}
	if conflicts != apps*(perApp-1) {
		t.Errorf("%d requests refused with 409, want %d", conflicts, apps*(perApp-1))
	}
	for i := 0; i < apps; i++ {
		name := fmt.Sprintf("app-%03d", i)
		ids := accepted[name]
		if len(ids) != 1 {
			t.Errorf("%s: %d sync requests accepted, want exactly 1: %v", name, len(ids), ids)
			continue
		}
		app, err := client.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if op := app.Status.Operation; op == nil || op.ID != ids[0] || op.Phase != gitopsv1alpha1.OperationPending {
			t.Errorf("%s records operation %+v, want the accepted %s, Pending", name, op, ids[0])
		}
	}
	t.Logf("%d sync requests over %d Applications answered in %s: %d accepted, %d refused with 409",
		apps*perApp, apps, took.Round(time.Millisecond), len(accepted), conflicts)
}
