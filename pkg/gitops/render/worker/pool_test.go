package worker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/counting"
)

// TestMain lets the test binary be its own render worker, as ferry-apiserver is.
func TestMain(m *testing.M) {
	RunIfAsked()
	os.Exit(m.Run())
}

func newPool(t *testing.T, opts Options) *Pool {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// overlay is a production-shaped repository: a base of Deployments, Services and ConfigMaps
// (n of each) and an overlay with a generator, a strategic-merge patch, replicas and images.
func overlay(n int, payload int) []source.File {
	files := []source.File{{Path: "apps/prod/kustomization.yaml", Data: []byte(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: shop
namePrefix: prod-
resources:
- ../base
labels:
- pairs: {env: prod}
configMapGenerator:
- name: settings
  literals: [LOG_LEVEL=warn, REPLICAS=3]
replicas:
- name: web-0
  count: 3
images:
- name: registry.example.com/shop/web
  newTag: v2.4.1
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web-0}
    spec:
      template:
        spec:
          containers:
          - name: web
            resources: {limits: {memory: 512Mi}}
`)}}
	var resources []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("web-%d", i)
		resources = append(resources, name+".yaml")
		files = append(files, source.File{Path: "apps/base/" + name + ".yaml", Data: []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      containers:
      - name: web
        image: registry.example.com/shop/web:v2.4.0
        ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: %[1]s}
spec:
  selector: {app: %[1]s}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: %[1]s-data}
data:
  blob: %[2]q
`, name, strings.Repeat("x", payload)))})
	}
	files = append(files, source.File{Path: "apps/base/kustomization.yaml", Data: []byte("resources:\n- " + strings.Join(resources, "\n- ") + "\n")})
	return files
}

func TestPoolBuildsWhatKustomizeBuildsInProcess(t *testing.T) {
	p := newPool(t, Options{Workers: 1})
	files := overlay(5, 10)
	want, err := render.Render(files, "apps/prod", render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := render.Render(files, "apps/prod", render.Options{Builder: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 16 {
		t.Fatalf("rendered %d objects, want 5 Deployments, 5 Services, 6 ConfigMaps", len(got))
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the worker's objects differ from kustomize's in this process:\n%v\n%v", got, want)
	}
	// Numbers keep their types across the process boundary (a port is an int64, not 80.0).
	for _, o := range got {
		if o.GetKind() == "Deployment" && o.GetName() == "prod-web-0" {
			replicas, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
			if replicas != 3 {
				t.Fatalf("prod-web-0 has %d replicas, want the overlay's 3", replicas)
			}
		}
	}
	// Errors keep the file and reason kustomize gave.
	broken := append(overlay(1, 1), source.File{Path: "apps/broken/kustomization.yaml", Data: []byte("resources: [../base]\npatches:\n- path: missing.yaml\n")})
	_, err = render.Render(broken, "apps/broken", render.Options{Builder: p})
	var rerr *render.Error
	if !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, "missing.yaml") {
		t.Fatalf("a missing patch file gave %v, want a render error naming missing.yaml", err)
	}
}

func TestPoolStopsABuildOverItsMemoryLimitAndRecovers(t *testing.T) {
	p := newPool(t, Options{Workers: 1, MemoryLimit: 256 << 20})
	// 400 ConfigMaps of 256 KiB each: 100 MiB of input, several times that inside kustomize.
	// (The limit is on address space, which Go reserves 64 MiB at a time, and kustomize's own
	// schemas take tens of MiB on a first build: at the smallest limit, 128 MiB, an ordinary
	// build on a loaded machine came too close to it.)
	_, err := render.Render(overlay(400, 256<<10), "apps/prod", render.Options{Builder: p})
	var rerr *render.Error
	if !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, "more than 256 MiB of memory") {
		t.Fatalf("a render over the memory limit gave %v, want an error naming the limit", err)
	}
	// The next render gets a fresh worker.
	objs, err := render.Render(overlay(3, 10), "apps/prod", render.Options{Builder: p})
	if err != nil || len(objs) != 10 {
		t.Fatalf("after a worker ran out of memory, the next render gave %d objects, %v", len(objs), err)
	}
}

func TestPoolStopsABuildOverItsDeadline(t *testing.T) {
	p := newPool(t, Options{Workers: 1, Timeout: 50 * time.Millisecond})
	_, err := render.Render(overlay(400, 10), "apps/prod", render.Options{Builder: p})
	var rerr *render.Error
	if !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, "took longer than 50ms") {
		t.Fatalf("a slow render gave %v, want an error naming the deadline", err)
	}
}

func TestOneSlowBuildDoesNotHoldTheOthers(t *testing.T) {
	p := newPool(t, Options{Workers: 2})
	slow := make(chan error, 1)
	go func() {
		_, err := render.Render(overlay(400, 10), "apps/prod", render.Options{Builder: p})
		slow <- err
	}()
	// Small renders finish one after another while the slow one still runs.
	for i := 0; i < 3; i++ {
		if _, err := render.Render(overlay(2, 10), "apps/prod", render.Options{Builder: p}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-slow:
		t.Fatalf("the slow render (%v) ended before three small ones: this test no longer measures waiting", err)
	default:
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
}

// TestWorkersExecuteNothing puts a `git` on the server's PATH that records each run, and builds
// a kustomization naming a remote base, as it would reach kustomize should Ferry's own checks
// (which rewrite or refuse remote bases) ever let one through: kustomize runs git for it in this
// process, but a worker has no PATH to find it by.
func TestWorkersExecuteNothing(t *testing.T) {
	bin := t.TempDir()
	marker := filepath.Join(t.TempDir(), "git-ran")
	script := "#!/bin/sh\necho ran >> " + marker + "\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	files := []source.File{{Path: "app/kustomization.yaml", Data: []byte("resources:\n- https://github.com/example/shop//deploy?ref=v1\n")}}
	opts := render.Options{AllowRemoteBases: true}

	if _, err := newPool(t, Options{Workers: 1}).Build(files, "app", opts); err == nil {
		t.Fatal("a remote base rendered without any way to fetch it")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("a render worker executed git")
	}

	// The same build in this process runs the git above: the check can fail.
	_, _ = render.InProcess.Build(files, "app", opts)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("kustomize in this process did not run git either (%v): the test proves nothing", err)
	}
}

// BenchmarkBuild compares a kustomize build in this process with the same build in a worker:
// the cost of isolation is the files and objects crossing a pipe as JSON.
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{3, 33} {
		files := overlay(n, 10)
		for _, where := range []string{"in-process", "worker"} {
			b.Run(fmt.Sprintf("objects=%d/%s", 3*n+1, where), func(b *testing.B) {
				opts := render.Options{Builder: render.InProcess}
				if where == "worker" {
					p, err := New(Options{Workers: 1})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(p.Close)
					opts.Builder = p
				}
				b.ReportAllocs()
				for b.Loop() {
					if objs, err := render.Render(files, "apps/prod", opts); err != nil || len(objs) != 3*n+1 {
						b.Fatalf("%d objects, %v", len(objs), err)
					}
				}
			})
		}
	}
}

// BenchmarkBuildParallel is many Applications rendering at once: in this process kustomize builds
// one at a time (its process-wide state), the pool one per worker.
func BenchmarkBuildParallel(b *testing.B) {
	files := overlay(33, 10)
	for _, where := range []string{"in-process", "worker"} {
		b.Run("objects=100/"+where, func(b *testing.B) {
			opts := render.Options{Builder: render.InProcess}
			if where == "worker" {
				p, err := New(Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(p.Close)
				opts.Builder = p
			}
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if objs, err := render.Render(files, "apps/prod", opts); err != nil || len(objs) != 100 {
						b.Errorf("%d objects, %v", len(objs), err)
						return
					}
				}
			})
		})
	}
}

// loopbackServer counts the requests it gets, and answers each with body.
func loopbackServer(t *testing.T, body string) (url string, requests func() int64) {
	t.Helper()
	srv := counting.NewServer(t, "127.0.0.1:0", counting.Body(body))
	return srv.URL, srv.Requests
}

// TestWorkersReachNoNetwork gives a worker, past every check of Ferry's own (Pool.Build takes
// staged files as they are), the kustomizations a tenant would write to make the server fetch
// an internal URL: a generator config file and an inline one whose ConfigMapGenerator reads a
// URL, a PatchTransformer whose patch is a URL, and a resource URL. The server at that URL sees
// no request, and nothing of its body comes back. The same builds in this process do fetch it.
func TestWorkersReachNoNetwork(t *testing.T) {
	const secret = "metadata-credentials-of-the-node"
	url, requests := loopbackServer(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fetched}\ndata: {k: "+secret+"}\n")
	base := source.File{Path: "app/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: v}\n")}
	cases := map[string][]source.File{
		"generator config file": {base,
			{Path: "app/kustomization.yaml", Data: []byte("resources: [cm.yaml]\ngenerators: [gen.yaml]\n")},
			{Path: "app/gen.yaml", Data: []byte("apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata: {name: creds}\nfiles:\n- creds=" + url + "/latest/meta-data\n")}},
		"inline generator": {base,
			{Path: "app/kustomization.yaml", Data: []byte("resources: [cm.yaml]\ngenerators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  metadata: {name: creds}\n  files:\n  - creds=" + url + "/latest/meta-data\n")}},
		"patch transformer": {base,
			{Path: "app/kustomization.yaml", Data: []byte("resources: [cm.yaml]\ntransformers: [patch.yaml]\n")},
			{Path: "app/patch.yaml", Data: []byte("apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: " + url + "/patch.yaml\ntarget: {kind: ConfigMap}\n")}},
		"resource url": {base,
			{Path: "app/kustomization.yaml", Data: []byte("resources: [cm.yaml, " + url + "/all.yaml]\n")}},
	}
	p := newPool(t, Options{Workers: 1})
	for name, files := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := p.Build(files, "app", render.Options{AllowRemoteBases: true})
			if err == nil {
				t.Fatalf("the build succeeded with %d objects: it read the URL", len(objs))
			}
			t.Logf("refused: %q", err)
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error carries the body of the URL: %v", err)
			}
			if n := requests(); n != 0 {
				t.Fatalf("the loopback server got %d requests from a render worker", n)
			}
		})
	}
	// In this process the first case does reach the server: the test can fail.
	if _, err := render.InProcess.Build(cases["generator config file"], "app", render.Options{}); err != nil || requests() == 0 {
		t.Fatalf("in this process the generator did not fetch the URL (%v, %d requests): the test proves nothing", err, requests())
	}
}

// TestWorkersReadNoFiles renders a chart whose values.schema.json refers to a file of the
// server's disk and to a URL, as a tenant would to read a file through the schema's error
// messages: in a worker neither is read.
func TestWorkersReadNoFiles(t *testing.T) {
	const secret = "server-side-secret-value"
	onDisk := filepath.Join(t.TempDir(), "token.json")
	if err := os.WriteFile(onDisk, []byte(`{"const": "`+secret+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	url, requests := loopbackServer(t, `{"const": "`+secret+`"}`)
	chart := func(ref string) []source.File {
		return []source.File{
			{Path: "chart/Chart.yaml", Data: []byte("apiVersion: v2\nname: web\nversion: 1.0.0\n")},
			{Path: "chart/values.yaml", Data: []byte("replicas: 2\ntoken: guess\n")},
			{Path: "chart/values.schema.json", Data: []byte(`{"type": "object", "properties": {"replicas": {"type": "integer"}, "token": {"$ref": "` + ref + `"}}}`)},
			{Path: "chart/templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\ndata: {replicas: \"{{ .Values.replicas }}\"}\n")},
		}
	}
	opts := render.Options{Helm: &render.HelmOptions{ReleaseName: "web", Namespace: "shop"}}
	p := newPool(t, Options{Workers: 1})
	for name, ref := range map[string]string{"file": "file://" + onDisk, "http": url + "/schema.json"} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Build(chart(ref), "chart", opts)
			if err == nil {
				t.Fatal("the chart rendered: its schema's $ref was read")
			}
			t.Logf("refused: %q", err)
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error carries what the $ref points at: %v", err)
			}
			if n := requests(); n != 0 {
				t.Fatalf("the loopback server got %d requests from a render worker", n)
			}
		})
	}
	// In this process the file is read, and its value is in the error: the test can fail.
	if _, err := render.InProcess.Build(chart("file://"+onDisk), "chart", opts); err == nil || !strings.Contains(err.Error(), secret) {
		t.Fatalf("in this process the schema did not read the file (%v): the test proves nothing", err)
	}
}

// TestTemplatesThatNeverEndAreStopped gives the pool ApplicationSet templates a tenant could
// write to stall or fill the server: a loop of a trillion empty turns, and a billion turns that
// each write a line. The first is stopped at the deadline, the second when a field passes its
// size; both name spec.template, and the worker goes on making Applications afterwards.
func TestTemplatesThatNeverEndAreStopped(t *testing.T) {
	p := newPool(t, Options{Workers: 1, TemplateTimeout: time.Second})
	params := []generators.Params{{"name": "web"}, {"name": "api"}}
	tmpl := func(name string) gitopsv1alpha1.ApplicationSetTemplate {
		return gitopsv1alpha1.ApplicationSetTemplate{
			Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: name},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source: gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/shop.git", Path: "apps/{{.name}}"},
			},
		}
	}
	for name, c := range map[string]struct{ template, want string }{
		"endless":   {"{{range 1000000000000}}{{end}}{{.name}}", "ran longer than 1s"},
		"unbounded": {"{{range 1000000000}}0123456789abcdef{{end}}{{.name}}", "spec.template.metadata.name: the template wrote more than 1024 KiB"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Templates(tmpl(c.template), params)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	apps, err := p.Templates(tmpl("shop-{{.name}}"), params)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps[0].Name != "shop-web" || apps[1].Spec.Source.Path != "apps/api" {
		t.Fatalf("after the stopped templates: %+v", apps)
	}
	var perr *generators.ParamsError
	if _, err := p.Templates(tmpl("{{.envv}}"), params); !errors.As(err, &perr) || perr.Index != 0 || !strings.Contains(err.Error(), `no parameter "envv"`) {
		t.Fatalf("a template naming a missing parameter: %v", err)
	}
}

// BenchmarkTemplates is what running an ApplicationSet's templates in a worker costs against
// running them in the server: 100 sets of parameters, one Application each.
func BenchmarkTemplates(b *testing.B) {
	tmpl := gitopsv1alpha1.ApplicationSetTemplate{
		Metadata: gitopsv1alpha1.ApplicationSetTemplateMeta{Name: "{{.env}}-{{.name}}", Labels: map[string]string{"env": "{{.env}}"}},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: "https://git.example.com/shop.git", Path: "apps/{{.name}}/overlays/{{.env}}"},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: "{{.name}}-{{.env}}"},
		},
	}
	var params []generators.Params
	for i := 0; i < 100; i++ {
		params = append(params, generators.Params{"name": fmt.Sprintf("svc-%d", i), "env": []string{"dev", "staging", "prod"}[i%3]})
	}
	p, err := New(Options{Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	for name, run := range map[string]func() ([]*gitopsv1alpha1.Application, error){
		"in-process": func() ([]*gitopsv1alpha1.Application, error) { return generators.RenderAll(tmpl, params) },
		"worker":     func() ([]*gitopsv1alpha1.Application, error) { return p.Templates(tmpl, params) },
	} {
		b.Run("applications=100/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if apps, err := run(); err != nil || len(apps) != 100 {
					b.Fatalf("%d Applications, %v", len(apps), err)
				}
			}
		})
	}
}
