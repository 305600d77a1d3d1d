package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

func files(kv ...string) []source.File {
	var out []source.File
	for i := 0; i < len(kv); i += 2 {
		out = append(out, source.File{Path: kv[i], Data: []byte(kv[i+1])})
	}
	return out
}

const cm = `apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
data:
  k: v
`

func configMap(name string) string { return strings.ReplaceAll(cm, "%s", name) }

func ids(t *testing.T, fs []source.File, dir string, opts Options) []string {
	t.Helper()
	objs, err := Render(fs, dir, opts)
	if err != nil {
		t.Fatalf("render %s: %v", dir, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

func TestPlainDirectory(t *testing.T) {
	fs := files(
		"apps/web/a.yaml", configMap("a")+"---\n"+configMap("b")+"---\n",
		"apps/web/c.json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`,
		"apps/web/list.yaml", "apiVersion: v1\nkind: List\nitems:\n- "+strings.ReplaceAll(strings.TrimSpace(configMap("d")), "\n", "\n  ")+"\n",
		"apps/web/README.md", "not yaml: [",
		"apps/web/sub/e.yaml", configMap("e"),
		"apps/other/x.yaml", configMap("x"),
	)
	got := strings.Join(ids(t, fs, "apps/web", Options{}), ",")
	if got != "ConfigMap/a,ConfigMap/b,ConfigMap/c,ConfigMap/d" {
		t.Errorf("plain directory = %s", got)
	}
	got = strings.Join(ids(t, fs, "apps/web", Options{Directory: &DirectoryOptions{Recurse: true, Exclude: "c.json"}}), ",")
	if got != "ConfigMap/a,ConfigMap/b,ConfigMap/d,ConfigMap/e" {
		t.Errorf("recurse with exclude = %s", got)
	}
	got = strings.Join(ids(t, fs, "apps/web", Options{Directory: &DirectoryOptions{Include: "a.*"}}), ",")
	if got != "ConfigMap/a,ConfigMap/b" {
		t.Errorf("include = %s", got)
	}
}

func TestInvalidManifestsNameTheFile(t *testing.T) {
	cases := map[string]struct {
		content string
		want    string
	}{
		"no kind":      {"apiVersion: v1\nmetadata:\n  name: x\n", "kind"},
		"no name":      {"apiVersion: v1\nkind: ConfigMap\n", "metadata.name"},
		"generateName": {"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  generateName: x-\n", "generateName"},
		"bad yaml":     {configMap("ok") + "---\nkind: [unclosed\n", "document 2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(files("app/good.yaml", configMap("good"), "app/bad.yaml", tc.content), "app", Options{})
			var rerr *Error
			if !errors.As(err, &rerr) || rerr.File != "app/bad.yaml" || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v; want an error naming app/bad.yaml and %q", err, tc.want)
			}
		})
	}
}

// TestHooksMayUseGenerateName: a hook Job written as Argo CD's users write them (generateName,
// a new Job per sync) renders from plain YAML; an ordinary object with generateName is still
// refused (TestInvalidManifestsNameTheFile). kustomize itself needs every resource named, as it
// does for Argo CD: there the hook's name is what kustomize reports missing.
func TestHooksMayUseGenerateName(t *testing.T) {
	hook := "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations: {argocd.argoproj.io/hook: PreSync}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: busybox}]}}}\n"
	for name, fs := range map[string][]source.File{
		"plain": files("app/hook.yaml", hook, "app/cm.yaml", configMap("settings")),
	} {
		t.Run(name, func(t *testing.T) {
			objs, err := Render(fs, "app", Options{})
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, o := range objs {
				found = found || o.GetKind() == "Job" && o.GetGenerateName() == "migrate-" && o.GetName() == ""
			}
			if len(objs) != 2 || !found {
				t.Errorf("rendered %d objects, the hook with generateName among them: %v", len(objs), found)
			}
		})
	}
	_, err := Render(files("app/kustomization.yaml", "resources: [hook.yaml]\n", "app/hook.yaml", hook), "app", Options{})
	if err == nil || !strings.Contains(err.Error(), "missing metadata.name") || !strings.Contains(err.Error(), "app/kustomization.yaml") {
		t.Errorf("kustomize with a generateName hook: %v", err)
	}
}

func TestKustomizationWithBaseElsewhereInTheRepository(t *testing.T) {
	fs := files(
		"base/kustomization.yaml", "resources:\n- cm.yaml\n",
		"base/cm.yaml", configMap("settings"),
		"overlays/prod/kustomization.yaml", "resources:\n- ../../base\nnamePrefix: prod-\n",
	)
	got := strings.Join(ids(t, fs, "overlays/prod", Options{}), ",")
	if got != "ConfigMap/prod-settings" {
		t.Errorf("overlay = %s", got)
	}
}

func TestKustomizeOverrides(t *testing.T) {
	deploy := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.0
`
	fs := files(
		"app/kustomization.yaml", "resources:\n- deploy.yaml\n",
		"app/deploy.yaml", deploy,
		"app/components/extra/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- cm.yaml\n",
		"app/components/extra/cm.yaml", configMap("extra"),
	)
	objs, err := Render(fs, "app", Options{Kustomize: &KustomizeOptions{
		NamePrefix: "p-",
		NameSuffix: "-s",
		Images:     []string{"nginx=registry.local/nginx:2.0"},
		Patches:    []Patch{{Patch: `[{"op":"add","path":"/spec/replicas","value":3}]`, Target: &Selector{Kind: "Deployment"}}},
		Components: []string{"components/extra"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]string{}
	for _, o := range objs {
		byKind[o.GetKind()] = o.GetName()
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructuredSlice(o.Object, "spec", "template", "spec", "containers")
			if img := containers[0].(map[string]interface{})["image"]; img != "registry.local/nginx:2.0" {
				t.Errorf("image = %v", img)
			}
			if r := o.Object["spec"].(map[string]interface{})["replicas"]; r != int64(3) && r != float64(3) && r != 3 {
				t.Errorf("replicas = %v (%T), want 3 from the patch", r, r)
			}
		}
	}
	if byKind["Deployment"] != "p-web-s" || byKind["ConfigMap"] != "p-extra-s" {
		t.Errorf("names = %v", byKind)
	}
}

func unstructuredSlice(obj map[string]interface{}, fields ...string) ([]interface{}, bool, error) {
	cur := interface{}(obj)
	for _, f := range fields {
		cur = cur.(map[string]interface{})[f]
	}
	s, ok := cur.([]interface{})
	return s, ok, nil
}

func TestOverridesOnTheRepositoryRoot(t *testing.T) {
	fs := files("kustomization.yaml", "resources:\n- cm.yaml\n", "cm.yaml", configMap("root"))
	got := strings.Join(ids(t, fs, "", Options{Kustomize: &KustomizeOptions{NamePrefix: "x-"}}), ",")
	if got != "ConfigMap/x-root" {
		t.Errorf("root with overrides = %s", got)
	}
}

func TestRemoteBasesAndEscapesAreRefused(t *testing.T) {
	cases := map[string][]source.File{
		"remote git base": files("app/kustomization.yaml", "resources:\n- github.com/org/repo//base?ref=main\n"),
		"remote url":      files("app/kustomization.yaml", "resources:\n- https://example.com/all.yaml\n"),
		"path escape":     files("app/kustomization.yaml", "resources:\n- ../../../etc\n"),
	}
	for name, fs := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Render(fs, "app", Options{})
			var rerr *Error
			if !errors.As(err, &rerr) || rerr.File != "app/kustomization.yaml" {
				t.Fatalf("got %v; want a refusal naming app/kustomization.yaml", err)
			}
			if name == "path escape" && !strings.Contains(err.Error(), "outside the repository") {
				t.Errorf("message %q does not say the path leaves the repository", err)
			}
			if name != "path escape" && !strings.Contains(err.Error(), "remote base") {
				t.Errorf("message %q does not say remote bases are refused", err)
			}
		})
	}
}

func TestExecFunctionsAreNotRun(t *testing.T) {
	fs := files(
		"app/kustomization.yaml", "resources:\n- cm.yaml\ntransformers:\n- fn.yaml\n",
		"app/cm.yaml", configMap("a"),
		"app/fn.yaml", `apiVersion: example.com/v1
kind: Evil
metadata:
  name: evil
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: /bin/touch
`,
	)
	if _, err := Render(fs, "app", Options{}); err == nil {
		t.Fatal("a kustomization with an exec function rendered")
	}
}

func TestParseImage(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1.2":                          "nginx||1.2|",
		"nginx=my/nginx:2":                   "nginx|my/nginx|2|",
		"nginx@sha256:abc":                   "nginx|||sha256:abc",
		"registry:5000/app=other:5000/app:v": "registry:5000/app|other:5000/app|v|",
	} {
		img, err := parseImage(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := img.Name + "|" + img.NewName + "|" + img.NewTag + "|" + img.Digest; got != want {
			t.Errorf("%s = %s, want %s", in, got, want)
		}
	}
}

func TestTooManyObjects(t *testing.T) {
	_, err := Render(files("app/a.yaml", configMap("a")+"---\n"+configMap("b")), "app", Options{MaxObjects: 1})
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("got %v", err)
	}
}

// TestRemoteFilesAreRefusedEvenWithRemoteBases: Ferry fetches Git repositories for remote bases,
// never a single file, and a render has no network to fetch one itself; the refusal says what to
// do instead.
func TestRemoteFilesAreRefusedEvenWithRemoteBases(t *testing.T) {
	fs := files("app/kustomization.yaml", "resources:\n- https://example.com/all.yaml\n")
	_, err := Render(fs, "app", Options{AllowRemoteBases: true, Remote: func(string, string) (TreeReader, error) {
		t.Fatal("a remote file was read as a repository")
		return nil, nil
	}})
	if err == nil || !strings.Contains(err.Error(), `remote file "https://example.com/all.yaml" refused`) || !strings.Contains(err.Error(), "copy the file into the repository") {
		t.Fatalf("got %v; want the remote file refused, saying what to do", err)
	}
}
