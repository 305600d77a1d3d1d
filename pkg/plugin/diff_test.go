package plugin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	ferrydiff "github.com/ferry-gitops/ferry/pkg/gitops/diff"
)

// unified is the diff Ferry's server sends for one object.
func unified(t *testing.T, live, desired *unstructured.Unstructured) string {
	t.Helper()
	d, err := ferrydiff.Unified(live, desired)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// diffReactor answers get applications/diff with d and counts the calls.
func diffReactor(h *harness, d *gitopsv1alpha1.ApplicationDiff, calls *int) {
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "diff" {
			return false, nil, nil
		}
		if a.(clienttesting.GetAction).GetName() != "web" || a.GetNamespace() != "team" {
			return true, nil, fmt.Errorf("unexpected %s of %s/%s", a.GetVerb(), a.GetNamespace(), a.(clienttesting.GetAction).GetName())
		}
		*calls++
		return true, d.DeepCopy(), nil
	})
}

func TestDiffInSync(t *testing.T) {
	h := newHarness(t, webApp())
	calls := 0
	diffReactor(h, &gitopsv1alpha1.ApplicationDiff{Revision: sha1, Summary: gitopsv1alpha1.DiffSummary{None: 2}, Items: []gitopsv1alpha1.ResourceDiff{
		{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Action: gitopsv1alpha1.DiffNone},
		{Version: "v1", Kind: "Service", Namespace: "web", Name: "web", Action: gitopsv1alpha1.DiffNone},
	}}, &calls)
	h.mustRun(0, "diff", "web")
	if want := "No differences: web is in sync with 3f2a9c1b7d4e (2 objects).\n"; h.out.String() != want || h.err.Len() != 0 {
		t.Errorf("diff in sync: stdout %q stderr %q, want %q", h.out, h.err, want)
	}
	h.mustRun(0, "diff", "web", "-o", "yaml")
	var d gitopsv1alpha1.ApplicationDiff
	if err := yaml.Unmarshal(h.out.Bytes(), &d); err != nil || d.Kind != "ApplicationDiff" || d.APIVersion != "gitops.ferry.dev/v1alpha1" || len(d.Items) != 2 {
		t.Errorf("diff -o yaml: %v\n%s", err, h.out)
	}
	if calls != 2 {
		t.Errorf("diff reached the server %d times, want 2", calls)
	}
}

// changedDiff is a diff with one object of each action.
func changedDiff(t *testing.T) *gitopsv1alpha1.ApplicationDiff {
	return &gitopsv1alpha1.ApplicationDiff{
		Revision: sha1,
		Summary:  gitopsv1alpha1.DiffSummary{Create: 1, Update: 1, Delete: 1, None: 2},
		Items: []gitopsv1alpha1.ResourceDiff{
			{Version: "v1", Kind: "Service", Namespace: "web", Name: "web", Action: gitopsv1alpha1.DiffNone},
			{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-settings", Action: gitopsv1alpha1.DiffUpdate,
				Diff: unified(t, configMap("web-settings", "v1"), configMap("web-settings", "v2"))},
			{Version: "v1", Kind: "ConfigMap", Namespace: "web", Name: "web-new", Action: gitopsv1alpha1.DiffCreate,
				Diff: unified(t, nil, configMap("web-new", "new"))},
			{Version: "v1", Kind: "Namespace", Name: "web", Action: gitopsv1alpha1.DiffNone},
			{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "web", Name: "old", Action: gitopsv1alpha1.DiffDelete,
				Diff: unified(t, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{"name": "old", "namespace": "web"}}}, nil)},
		},
	}
}

// changedDiffOutput is what diff prints for changedDiff. The lone " " lines are the empty context
// line the server's diff of a created or deleted object ends with.
const changedDiffOutput = `~ Update v1 ConfigMap web/web-settings
--- live
+++ desired
@@ -1,6 +1,6 @@
 apiVersion: v1
 data:
-  value: v1
+  value: v2
 kind: ConfigMap
 metadata:
   name: web-settings

+ Create v1 ConfigMap web/web-new
--- live
+++ desired
@@ -0,0 +1,7 @@
+apiVersion: v1
+data:
+  value: new
+kind: ConfigMap
+metadata:
+  name: web-new
+  namespace: web

- Delete apps/v1 Deployment web/old
--- live
+++ desired
@@ -1,5 +0,0 @@
-apiVersion: apps/v1
-kind: Deployment
-metadata:
-  name: old
-  namespace: web

1 to create, 1 to update, 1 to delete, 2 unchanged (revision 3f2a9c1b7d4e)
`

func TestDiffWithChanges(t *testing.T) {
	h := newHarness(t, webApp())
	calls := 0
	diffReactor(h, changedDiff(t), &calls)
	h.mustRun(1, "diff", "web")
	if h.out.String() != changedDiffOutput {
		t.Errorf("diff:\n%s\nwant:\n%s", h.out, changedDiffOutput)
	}
	if h.err.Len() != 0 {
		t.Errorf("diff with differences wrote to stderr: %q", h.err)
	}
	if strings.Contains(h.out.String(), "\x1b[") {
		t.Errorf("colour without a terminal:\n%q", h.out)
	}

	h.mustRun(1, "diff", "web", "-o", "json")
	var d gitopsv1alpha1.ApplicationDiff
	if err := json.Unmarshal(h.out.Bytes(), &d); err != nil || d.Kind != "ApplicationDiff" || d.Summary.Update != 1 || len(d.Items) != 5 || d.Items[1].Diff == "" {
		t.Errorf("diff -o json: %v\n%s", err, h.out)
	}
	if h.err.Len() != 0 {
		t.Errorf("diff -o json with differences wrote to stderr: %q", h.err)
	}
}

func TestDiffColors(t *testing.T) {
	h := newHarness(t, webApp())
	calls := 0
	diffReactor(h, changedDiff(t), &calls)
	h.color = true
	h.mustRun(1, "diff", "web")
	out := h.out.String()
	for _, want := range []string{
		ansiBold + "~ Update v1 ConfigMap web/web-settings" + ansiReset + "\n",
		ansiBold + "--- live" + ansiReset + "\n" + ansiBold + "+++ desired" + ansiReset + "\n",
		ansiCyan + "@@ -1,6 +1,6 @@" + ansiReset + "\n apiVersion: v1\n",
		ansiRed + "-  value: v1" + ansiReset + "\n" + ansiGreen + "+  value: v2" + ansiReset + "\n",
		ansiBold + "- Delete apps/v1 Deployment web/old" + ansiReset + "\n",
		ansiRed + "-  name: old" + ansiReset + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("coloured diff lacks %q:\n%q", want, out)
		}
	}
	if stripANSI(out) != changedDiffOutput {
		t.Errorf("colours change the text:\n%s", stripANSI(out))
	}
}

// TestDiffAndManifestsRefused checks the errors name the subresource's permission and role.
func TestDiffAndManifestsRefused(t *testing.T) {
	for _, sub := range []string{"diff", "manifests"} {
		h := newHarness(t, webApp())
		h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() != sub {
				return false, nil, nil
			}
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications/" + sub}, "web",
				errString(`User "nobody" cannot get resource "applications/`+sub+`"`))
		})
		h.mustRun(2, sub, "web", "--revision", "main")
		for _, want := range []string{"error: Forbidden: ", `"get applications/` + sub + `" in namespace team`, "the ferry-view ClusterRole",
			"kubectl auth can-i get applications.gitops.ferry.dev --subresource=" + sub + " -n team"} {
			if !strings.Contains(h.err.String(), want) {
				t.Errorf("%s forbidden: stderr lacks %q:\n%s", sub, want, h.err)
			}
		}
		if h.out.Len() != 0 {
			t.Errorf("%s forbidden printed to stdout: %q", sub, h.out)
		}
	}
}

func TestDiffUnknownRevision(t *testing.T) {
	h := newHarness(t, webApp())
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "diff" {
			return false, nil, nil
		}
		return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "revisions"},
			`branch or tag "v9": revision not found in https://git.example.com/org/repo.git`)
	})
	h.mustRun(2, "diff", "web", "--revision", "v9")
	want := "error: branch or tag \"v9\": revision not found in https://git.example.com/org/repo.git\n" +
		"--revision takes a branch, a tag or a full 40-character commit SHA of the Application's repository.\n"
	if h.err.String() != want {
		t.Errorf("diff of an unknown revision: stderr\n%s\nwant\n%s", h.err, want)
	}
}

// TestRevisionReachesTheServer runs diff and manifests through the real typed clientset against
// an HTTP server, to see --revision arrive as ?revision= (the fake clientset's actions do not
// carry the options).
func TestRevisionReachesTheServer(t *testing.T) {
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		switch path.Base(r.URL.Path) {
		case "diff":
			fmt.Fprintf(w, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationDiff","revision":%q,"items":[{"version":"v1","kind":"ConfigMap","name":"a","action":"None"}]}`, sha1)
		case "manifests":
			fmt.Fprintf(w, `{"apiVersion":"gitops.ferry.dev/v1alpha1","kind":"ApplicationManifests","revision":%q,"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}]}`, sha1)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client, err := versioned.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	h.clientset = client

	h.mustRun(0, "diff", "web", "--revision", "release/v1.2 & more")
	h.mustRun(0, "diff", "web")
	h.mustRun(0, "manifests", "web", "--revision", sha1)
	if !strings.HasPrefix(h.out.String(), "# revision "+sha1+"\napiVersion: v1\nkind: ConfigMap\n") {
		t.Errorf("manifests through the clientset:\n%s", h.out)
	}
	h.mustRun(0, "manifests", "web", "-n", "other")
	base := "GET /apis/gitops.ferry.dev/v1alpha1/namespaces/"
	want := []string{
		base + "team/applications/web/diff?revision=release%2Fv1.2+%26+more",
		base + "team/applications/web/diff?",
		base + "team/applications/web/manifests?revision=" + sha1,
		base + "other/applications/web/manifests?",
	}
	if !reflect.DeepEqual(requests, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(requests, "\n"), strings.Join(want, "\n"))
	}
}
