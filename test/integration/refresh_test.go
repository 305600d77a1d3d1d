package integration

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// TestRefreshThroughTypedClient: the generated client's Refresh posts an ApplicationRefresh to
// applications/{name}/refresh (protobuf by default) and the request lands in status.refresh,
// requested by the caller; a suspended Application refuses it with 409.
func TestRefreshThroughTypedClient(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := context.Background()
	apps := ts.client.GitopsV1alpha1().Applications("default")
	if _, err := apps.Create(ctx, newApp("refreshme"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	resp, err := apps.Refresh(ctx, "refreshme", &gitopsv1alpha1.ApplicationRefresh{Spec: gitopsv1alpha1.ApplicationRefreshSpec{Reason: "push to main"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status.RequestedAt.IsZero() || resp.Status.ApplicationResourceVersion == "" {
		t.Errorf("refresh response %+v: want the recorded time and resourceVersion", resp.Status)
	}
	app, err := apps.Get(ctx, "refreshme", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := app.Status.Refresh
	if r == nil || !r.RequestedAt.Equal(&resp.Status.RequestedAt) || r.RequestedBy != "system:apiserver" || r.Reason != "push to main" {
		t.Errorf("status.refresh %+v: want the response's time, the caller (system:apiserver) and the reason", r)
	}

	suspended := newApp("paused")
	suspended.Spec.Suspend = true
	if _, err := apps.Create(ctx, suspended, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.Refresh(ctx, "paused", &gitopsv1alpha1.ApplicationRefresh{}, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("refresh of a suspended Application: %v, want 409", err)
	}
}
