package plugin

import (
	"bufio"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clienttesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// manifestObjects are the objects of TestManifests, as the server sends them (JSON).
func manifestObjects(t *testing.T) []map[string]any {
	return []map[string]any{
		configMap("web-settings", "v2").Object,
		{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "web"},
			"stringData": map[string]any{"password": "<masked>"}},
		{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web", "namespace": "web",
			"labels": map[string]any{"app": "web"}}, "spec": map[string]any{"replicas": float64(2)}},
	}
}

func TestManifests(t *testing.T) {
	h := newHarness(t, webApp())
	m := &gitopsv1alpha1.ApplicationManifests{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team"}, Revision: sha1}
	objects := manifestObjects(t)
	for _, o := range objects {
		raw, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		m.Objects = append(m.Objects, runtime.RawExtension{Raw: raw})
	}
	h.client.PrependReactor("get", "applications", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "manifests" {
			return false, nil, nil
		}
		return true, m.DeepCopy(), nil
	})

	h.mustRun(0, "manifests", "web")
	out := h.out.String()
	if !strings.HasPrefix(out, "# revision "+sha1+"\n"+maskedNote+"\napiVersion: v1\n") {
		t.Errorf("manifests should start with the revision, the masking note, then the first object:\n%s", out)
	}
	if !strings.Contains(out, "\n---\napiVersion: v1\nkind: Secret\n") || !strings.Contains(out, "password: <masked>") {
		t.Errorf("manifests: documents should be separated by ---:\n%s", out)
	}
	// The stream parses back to the objects.
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	var got []map[string]any
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("manifests output is not a YAML stream: %v\n%s", err, out)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatalf("document %d: %v\n%s", len(got)+1, err, doc)
		}
		if obj != nil {
			got = append(got, obj)
		}
	}
	if !reflect.DeepEqual(got, objects) {
		t.Errorf("manifests parse back to\n%v\nwant\n%v", got, objects)
	}

	h.mustRun(0, "manifests", "web", "-o", "json")
	var back gitopsv1alpha1.ApplicationManifests
	if err := json.Unmarshal(h.out.Bytes(), &back); err != nil || back.Kind != "ApplicationManifests" || back.Revision != sha1 || len(back.Objects) != 3 {
		t.Errorf("manifests -o json: %v\n%s", err, h.out)
	}
	h.mustRun(0, "manifests", "web", "-o", "yaml")
	back = gitopsv1alpha1.ApplicationManifests{}
	if err := yaml.Unmarshal(h.out.Bytes(), &back); err != nil || back.Kind != "ApplicationManifests" || len(back.Objects) != 3 {
		t.Errorf("manifests -o yaml: %v\n%s", err, h.out)
	}

	// Without a Secret there is no masking note; without objects stderr says so.
	m.Objects = m.Objects[:1]
	h.mustRun(0, "manifests", "web")
	if want := "# revision " + sha1 + "\napiVersion: v1\ndata:\n  value: v2\nkind: ConfigMap\nmetadata:\n  name: web-settings\n  namespace: web\n"; h.out.String() != want {
		t.Errorf("manifests of one ConfigMap:\n%s\nwant:\n%s", h.out, want)
	}
	m.Objects = nil
	h.mustRun(0, "manifests", "web")
	if h.out.String() != "# revision "+sha1+"\n" || h.err.String() != "Application web in namespace team renders no objects at 3f2a9c1b7d4e.\n" {
		t.Errorf("manifests of nothing: stdout %q stderr %q", h.out, h.err)
	}
}
