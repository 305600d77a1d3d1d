package integration

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// An ApplicationPreview is created through the typed client and validated with field paths; it
// cannot be read back or listed, and a server with no cluster to compare with says so (503)
// rather than answering half a preview.
func TestApplicationPreviewIsCreateOnly(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx := context.Background()
	if _, err := ts.client.GitopsV1alpha1().Applications("default").Create(ctx, newApp("web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	previews := ts.client.GitopsV1alpha1().ApplicationPreviews("default")
	_, err := previews.Create(ctx, &gitopsv1alpha1.ApplicationPreview{Spec: gitopsv1alpha1.ApplicationPreviewSpec{Revision: "main"}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.application: Required value") {
		t.Errorf("a preview naming no Application: want 422 naming spec.application, got %v", err)
	}
	_, err = previews.Create(ctx, &gitopsv1alpha1.ApplicationPreview{Spec: gitopsv1alpha1.ApplicationPreviewSpec{Application: "ghost", Revision: "main"}}, metav1.CreateOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a preview of an Application that does not exist: want 404, got %v", err)
	}
	_, err = previews.Create(ctx, &gitopsv1alpha1.ApplicationPreview{Spec: gitopsv1alpha1.ApplicationPreviewSpec{Application: "web", Revision: "main"}}, metav1.CreateOptions{})
	if !apierrors.IsServiceUnavailable(err) {
		t.Errorf("a preview on a server without a target cluster: want 503, got %v", err)
	}
	var code int
	ts.client.Discovery().RESTClient().Get().AbsPath("/apis/gitops.ferry.dev/v1alpha1/namespaces/default/applicationpreviews").Do(ctx).StatusCode(&code)
	if code != 405 && code != 404 {
		t.Errorf("GET applicationpreviews answered %d, want 405 or 404: previews are never stored", code)
	}
}
