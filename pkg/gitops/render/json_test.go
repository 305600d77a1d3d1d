package render

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/test/corpus"
)

// numbers is a Service and a custom resource with every kind of scalar a manifest holds: small
// and large integers, a float, booleans, null and strings that look like numbers.
const numbers = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
    targetPort: 8080
  - port: 443
    targetPort: https
---
apiVersion: corpus.ferry.dev/v1
kind: Widget
metadata:
  name: sizes
spec:
  replicas: 3
  ratio: 0.25
  big: 9007199254740993
  negative: -12
  enabled: true
  disabled: false
  nothing: null
  version: "1.20"
  list: [1, 2.5, "3"]
`

const numbersJSON = `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"json","annotations":{"n":"1"}},"data":{"a":"1"},"x":{"count":7,"share":0.5,"big":9007199254740993}}`

// TestEveryRendererYieldsOnlyJSONTypes renders manifests full of numbers through kustomize,
// plain YAML and plain JSON, and checks that each object holds only the types unstructured
// objects may hold, deep-copies, and survives a JSON round trip unchanged. Kustomize's ints once
// made DeepCopy panic and took ferry-apiserver down.
func TestEveryRendererYieldsOnlyJSONTypes(t *testing.T) {
	cases := map[string]struct {
		files []string
		dir   string
	}{
		"kustomize":                {[]string{"app/kustomization.yaml", "resources: [objects.yaml]\n", "app/objects.yaml", numbers}, "app"},
		"kustomize with overrides": {[]string{"app/kustomization.yaml", "resources: [objects.yaml]\nnamePrefix: x-\nlabels: [{pairs: {tier: web}}]\n", "app/objects.yaml", numbers}, "app"},
		"plain YAML":               {[]string{"app/objects.yaml", "# a comment-only document\n---\n" + numbers + "---\n"}, "app"},
		"plain JSON":               {[]string{"app/object.json", numbersJSON}, "app"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := Render(files(tc.files...), tc.dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("rendered nothing")
			}
			for _, o := range objs {
				checkRoundTrip(t, o)
			}
		})
	}

	// The values themselves, typed as the API machinery expects them.
	objs, err := Render(files("app/kustomization.yaml", "resources: [objects.yaml]\n", "app/objects.yaml", numbers), "app", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "Service":
			ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
			if got := ports[0].(map[string]interface{})["port"]; got != int64(80) {
				t.Errorf("Service port = %#v, want int64(80)", got)
			}
		case "Widget":
			spec := o.Object["spec"].(map[string]interface{})
			want := map[string]interface{}{
				"replicas": int64(3), "ratio": 0.25, "big": int64(9007199254740993), "negative": int64(-12),
				"enabled": true, "disabled": false, "nothing": nil, "version": "1.20",
				"list": []interface{}{int64(1), 2.5, "3"},
			}
			if !reflect.DeepEqual(spec, want) {
				t.Errorf("Widget spec = %#v\nwant %#v", spec, want)
			}
		}
	}
}

// checkRoundTrip fails the test unless o holds only JSON types, deep-copies to an equal object,
// and encodes to JSON and back unchanged.
func checkRoundTrip(t *testing.T, o *unstructured.Unstructured) {
	t.Helper()
	id := o.GetKind() + "/" + o.GetName()
	if err := onlyJSONTypes(o.Object, ""); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	var copied *unstructured.Unstructured
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: DeepCopy panicked: %v", id, r)
			}
		}()
		copied = o.DeepCopy()
	}()
	if !reflect.DeepEqual(copied.Object, o.Object) {
		t.Errorf("%s: the deep copy differs from the object", id)
	}
	data, err := json.Marshal(o.Object)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	back, err := ObjectFromJSON(data)
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if !reflect.DeepEqual(back.Object, o.Object) {
		t.Errorf("%s: changed in a JSON round trip:\n%#v\n%#v", id, o.Object, back.Object)
	}
	if _, err := o.MarshalJSON(); err != nil {
		t.Errorf("%s: the unstructured codec refuses it: %v", id, err)
	}
}

func onlyJSONTypes(v interface{}, at string) error {
	switch v := v.(type) {
	case nil, string, bool, int64, float64:
		return nil
	case map[string]interface{}:
		for k, e := range v {
			if err := onlyJSONTypes(e, at+"."+k); err != nil {
				return err
			}
		}
		return nil
	case []interface{}:
		for i, e := range v {
			if err := onlyJSONTypes(e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("%s holds a %T (%v), which unstructured objects may not hold", at, v, v)
	}
}

// TestCorpusRendersToJSONTypes renders every Application path of the corpus of real-world
// repositories, before and after its second commit, and checks each object as above.
func TestCorpusRendersToJSONTypes(t *testing.T) {
	for _, repo := range corpus.Repos() {
		for commit, tree := range map[string]map[string]string{"first": repo.Files(), "second": repo.After()} {
			var fs []source.File
			for p, data := range tree {
				fs = append(fs, source.File{Path: p, Data: []byte(data)})
			}
			for _, app := range repo.Apps {
				t.Run(repo.Name+"/"+app.Path+"@"+commit, func(t *testing.T) {
					objs, err := Render(fs, app.Path, Options{Directory: &DirectoryOptions{Recurse: app.Recurse}})
					if err != nil {
						t.Fatal(err)
					}
					if len(objs) < 3 {
						t.Fatalf("rendered %d objects; the corpus has more in every path", len(objs))
					}
					for _, o := range objs {
						checkRoundTrip(t, o)
					}
				})
			}
		}
	}
}
