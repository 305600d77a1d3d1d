package worker

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// TestMain lets the test binary be its own render worker, as ferry-apiserver is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == Subcommand {
		os.Exit(Main(os.Args[2:]))
	}
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

// TestATarpitCostsOneWorkerUntilTheDeadline: with remote bases allowed, a kustomization naming a
// URL that never answers holds one worker until --render-timeout and fails naming it, while
// another Application's render goes through the other worker meanwhile.
func TestATarpitCostsOneWorkerUntilTheDeadline(t *testing.T) {
	release, hit := make(chan struct{}), make(chan struct{}, 1)
	tarpit := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hit <- struct{}{}:
		default:
		}
		<-release
	}))
	defer tarpit.Close()
	defer close(release)
	p := newPool(t, Options{Workers: 2, Timeout: 2 * time.Second})
	stuck := make(chan error, 1)
	go func() {
		files := []source.File{{Path: "app/kustomization.yaml", Data: []byte("resources:\n- " + tarpit.URL + "/deploy.yaml\n")}}
		_, err := render.Render(files, "app", render.Options{AllowRemoteBases: true, Builder: p})
		stuck <- err
	}()
	select {
	case <-hit: // the worker is in the tarpit
	case err := <-stuck:
		t.Fatalf("the render naming the tarpit never reached it: %v", err)
	}
	if objs, err := render.Render(overlay(3, 10), "apps/prod", render.Options{Builder: p}); err != nil || len(objs) != 10 {
		t.Fatalf("a render beside the tarpit: %d objects, %v", len(objs), err)
	}
	select {
	case err := <-stuck:
		t.Fatalf("the tarpit render ended (%v) before the other one: the test measures nothing", err)
	default:
	}
	err := <-stuck
	var rerr *render.Error
	if !errors.As(err, &rerr) || !strings.Contains(rerr.Reason, "took longer than 2s") {
		t.Fatalf("the tarpit render: %v, want the deadline named", err)
	}
}
