package plugin

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// previewReactor answers create applicationpreviews with the diff d, or err, and keeps the
// specs it was sent.
func previewReactor(h *harness, d *gitopsv1alpha1.ApplicationDiff, err error, sent *[]gitopsv1alpha1.ApplicationPreviewSpec) {
	h.client.PrependReactor("create", "applicationpreviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*gitopsv1alpha1.ApplicationPreview).DeepCopy()
		if a.GetNamespace() != "team" {
			return true, nil, fmt.Errorf("preview created in namespace %q", a.GetNamespace())
		}
		*sent = append(*sent, p.Spec)
		if err != nil {
			return true, nil, err
		}
		p.Status.Revision = d.Revision
		p.Status.Diff = gitopsv1alpha1.PreviewDiff{Summary: d.Summary, Items: d.Items}
		return true, p, nil
	})
}

// kubectl ferry preview prints what kubectl ferry diff prints and exits like kubectl diff: 1
// when a sync to the revision would change something, 0 when not, 2 on an error.
func TestPreviewExitCodes(t *testing.T) {
	t.Run("differences", func(t *testing.T) {
		h := newHarness(t, webApp())
		var sent []gitopsv1alpha1.ApplicationPreviewSpec
		previewReactor(h, changedDiff(t), nil, &sent)
		h.mustRun(1, "preview", "web", "--revision", "refs/pull/7/head", "--repo", "https://git.example.com/me/web.git", "--as-service-account")
		if h.out.String() != changedDiffOutput {
			t.Errorf("preview printed:\n%s\nwant:\n%s", h.out, changedDiffOutput)
		}
		want := gitopsv1alpha1.ApplicationPreviewSpec{Application: "web", Revision: "refs/pull/7/head", RepoURL: "https://git.example.com/me/web.git", AsServiceAccount: true}
		if len(sent) != 1 || sent[0].Application != want.Application || sent[0].Revision != want.Revision || sent[0].RepoURL != want.RepoURL || !sent[0].AsServiceAccount || sent[0].SourceIndex != nil {
			t.Errorf("sent %+v, want %+v", sent, want)
		}
		h.mustRun(1, "preview", "web", "--revision", "pr-7", "-o", "yaml")
		var p gitopsv1alpha1.ApplicationPreview
		if err := yaml.Unmarshal(h.out.Bytes(), &p); err != nil || p.Kind != "ApplicationPreview" || len(p.Status.Diff.Items) != 5 {
			t.Errorf("preview -o yaml: %v\n%s", err, h.out)
		}
	})
	t.Run("no differences", func(t *testing.T) {
		h := newHarness(t, webApp())
		var sent []gitopsv1alpha1.ApplicationPreviewSpec
		previewReactor(h, &gitopsv1alpha1.ApplicationDiff{Revision: sha1, Items: []gitopsv1alpha1.ResourceDiff{
			{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Action: gitopsv1alpha1.DiffNone},
		}}, nil, &sent)
		h.mustRun(0, "preview", "web", "--revision", "main")
		if want := "No differences: web is in sync with 3f2a9c1b7d4e (1 object).\n"; h.out.String() != want {
			t.Errorf("stdout %q, want %q", h.out, want)
		}
	})
	t.Run("refused", func(t *testing.T) {
		h := newHarness(t, webApp())
		var sent []gitopsv1alpha1.ApplicationPreviewSpec
		previewReactor(h, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applicationpreviews"}, "",
			fmt.Errorf(`a preview shows what Application team/web deploys: user "eve" may not get it`)), &sent)
		h.mustRun(2, "preview", "web", "--revision", "main")
		for _, want := range []string{"error: Forbidden: ", `user "eve" may not get it`, `"create applicationpreviews" and "get" on Application web`} {
			if !strings.Contains(h.err.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, h.err)
			}
		}
	})
	t.Run("no revision", func(t *testing.T) {
		h := newHarness(t, webApp())
		h.mustRun(2, "preview", "web")
		if !strings.Contains(h.err.String(), "--revision is required") {
			t.Errorf("stderr: %s", h.err)
		}
	})
}
