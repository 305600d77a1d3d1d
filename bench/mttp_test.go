package main

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// TestMTTPOverlayRendersTheAppsFourObjects: kustomize renders app 3's overlay as four objects
// named for the app, whose references (the Deployment's ServiceAccount, the Ingress's Service)
// follow the rename, whose selectors tell the app from the others of its namespace, and which
// carry the overlay's version; the plain layout has the same four kinds.
func TestMTTPOverlayRendersTheAppsFourObjects(t *testing.T) {
	fs := filesys.MakeFsInMemory()
	for name, body := range mttpRepo(mttpKustomize, 5, "v2") {
		if err := fs.WriteFile("/repo/"+name, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/repo/"+mttpPath(3))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", mttpPath(3), err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, r := range res.Resources() {
		kinds[r.GetKind()] = r.GetName()
	}
	for _, kind := range []string{"ServiceAccount", "Service", "Deployment", "Ingress"} {
		if kinds[kind] != "app-00003-app" {
			t.Errorf("%s named %q, want app-00003-app\n%s", kind, kinds[kind], out)
		}
	}
	for _, want := range []string{
		"serviceAccountName: app-00003-app", "name: app-00003-app\n            port:", `value: v2`, `bench.ferry.dev/version: v2`,
		"bench.ferry.dev/app: app-00003\n", "host: app-00003.bench.example.com",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the rendered overlay lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(string(out), "matchLabels:\n      app.kubernetes.io/name: app\n      bench.ferry.dev/app: app-00003") {
		t.Errorf("the Deployment's selector does not tell app 3 from the others:\n%s", out)
	}

	plain := mttpRepo(mttpPlain, 2, "v1")
	if len(plain) != 8 {
		t.Fatalf("the plain layout of 2 apps has %d files, want 8", len(plain))
	}
	for path, body := range plain {
		var obj struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(body), &obj); err != nil || obj.Kind == "" || !strings.HasPrefix(path, "apps/"+obj.Metadata.Name+"/") {
			t.Errorf("%s: kind %q name %q (%v)", path, obj.Kind, obj.Metadata.Name, err)
		}
	}
}

// TestMTTPChartRendersThePlainLayoutsObjects: the helm layout's chart, installed as app 3 at v2,
// renders exactly the plain layout's four objects of app 3 at v2 (so the floor, which applies
// those, deploys what the tools install), and v1 and v2 are two versions of the chart that the
// tools' range takes in order.
func TestMTTPChartRendersThePlainLayoutsObjects(t *testing.T) {
	var files []source.File
	for name, body := range mttpChart("v2") {
		files = append(files, source.File{Path: name, Data: []byte(body)})
	}
	objs, err := render.BuildChart(files, "", render.Options{Helm: &render.HelmOptions{ReleaseName: mttpName(3), Namespace: "team"}})
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	got := map[string]any{}
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any // as YAML is read below: numbers as float64
		if err := yaml.Unmarshal(data, &obj); err != nil {
			t.Fatal(err)
		}
		got[o.GetKind()] = obj
	}
	want := map[string]any{}
	for _, body := range mttpObjects(mttpName(3), "v2") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(body), &obj); err != nil {
			t.Fatal(err)
		}
		want[obj["kind"].(string)] = obj
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the chart renders other objects than the plain layout (-plain +chart):\n%s", diff)
	}
	v1, v2 := mttpChartVersion("v1"), mttpChartVersion("v2")
	c, err := semver.NewConstraint(mttpChartRange)
	if err != nil {
		t.Fatal(err)
	}
	if v1 == v2 || !c.Check(semver.MustParse(v1)) || !c.Check(semver.MustParse(v2)) || !semver.MustParse(v1).LessThan(semver.MustParse(v2)) {
		t.Errorf("chart versions %s then %s: not two ascending versions within %q", v1, v2, mttpChartRange)
	}
}
