package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
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
