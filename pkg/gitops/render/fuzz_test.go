package render

import (
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
)

// refusingTransport answers no request and counts them: a render that asks the network for
// anything is a finding.
type refusingTransport struct{ requests atomic.Int64 }

func (r *refusingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.requests.Add(1)
	return nil, errors.New("a render asked the network for " + req.URL.String())
}

// FuzzRender renders a repository of a kustomization and one resource, both from the fuzzer
// (every seed below is an attack that once worked, or an input shaped like a user's), and
// checks what must hold whatever Git holds: no request leaves the process, no panic, the output
// within its bounds, and every object one Ferry can apply and track. `go test` runs the seeds;
// `make fuzz` explores from them.
func FuzzRender(f *testing.F) {
	seeds := []struct{ kustomization, resource string }{
		// What users write.
		{"namePrefix: prod-\nresources: [deploy.yaml]\nimages:\n- name: web\n  newTag: v2\nreplicas:\n- name: web\n  count: 3\n", deploymentWithAnchors},
		{"resources: [deploy.yaml]\nconfigMapGenerator:\n- name: env\n  literals: [A=1, B=two]\nsecretGenerator:\n- name: db\n  literals: [password=hunter2]\npatches:\n- patch: |-\n    - op: add\n      path: /metadata/labels/x\n      value: y\n  target: {kind: Deployment}\n", deploymentWithAnchors},
		{"", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n"},
		// Attacks: a billion laughs, URLs in every field, remote bases in any case, escapes.
		{"resources: [deploy.yaml]\n", aliasBomb(7)},
		{"configMapGenerator:\n- name: x\n  files: [k=http://127.0.0.1:1/secret.txt]\n", ""},
		{"resources: [deploy.yaml]\npatches:\n- path: HTTPS://127.0.0.1:1/p.yaml\n", configMap("a")},
		{"resources:\n- GitHub.com/org/repo//deploy?ref=main\n", ""},
		{"resources:\n- git::https://127.0.0.1:1/org/repo.git//x\n", ""},
		{"resources: [../../../../etc/passwd]\n", ""},
		{"openapi:\n  path: http://127.0.0.1:1/schema.json\nresources: [deploy.yaml]\n", configMap("a")},
		{"resources: [deploy.yaml]\n", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: &d {k: *d}\n"},
		{"resources: [deploy.yaml]\n", "apiVersion: v1\nkind: Job\nmetadata: {generateName: migrate-}\n"},
	}
	for _, s := range seeds {
		f.Add(s.kustomization, s.resource)
	}
	network := &refusingTransport{}
	defaultTransport := http.DefaultTransport
	http.DefaultTransport = network
	f.Cleanup(func() { http.DefaultTransport = defaultTransport })
	// kustomize writes deprecation warnings to stderr on every build: silenced in the processes
	// that run the inputs, not in the one reporting progress.
	if fuzzWorker() {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			f.Fatal(err)
		}
		stderr := os.Stderr
		os.Stderr = null
		f.Cleanup(func() { os.Stderr = stderr; null.Close() })
	}

	const maxObjects = 50
	f.Fuzz(func(t *testing.T, kustomization, resource string) {
		repo := files("app/deploy.yaml", resource, "other/secret.yaml", "secret outside the app")
		if kustomization != "" {
			repo = append(repo, files("app/kustomization.yaml", kustomization)...)
		}
		before := network.requests.Load()
		objs, err := Render(repo, "app", Options{MaxObjects: maxObjects, MaxBytes: 1 << 20})
		if n := network.requests.Load() - before; n > 0 {
			t.Fatalf("the render made %d network requests", n)
		}
		if err != nil {
			var rerr *Error
			if !errors.As(err, &rerr) || rerr.Reason == "" {
				t.Fatalf("an error that is not a render error naming what failed: %T %v", err, err)
			}
			return
		}
		if len(objs) > maxObjects {
			t.Fatalf("%d objects, over the bound of %d", len(objs), maxObjects)
		}
		for _, o := range objs {
			if err := checkObject(o); err != nil {
				t.Fatalf("rendered an object Ferry cannot track: %v", err)
			}
			if data, _ := o.MarshalJSON(); strings.Contains(string(data), "secret outside the app") {
				t.Fatalf("rendered a file outside the Application's path: %s", data)
			}
		}
	})
}

// fuzzWorker reports whether this process runs fuzz inputs for a coordinating `go test -fuzz`.
func fuzzWorker() bool {
	for _, arg := range os.Args {
		if strings.HasPrefix(arg, "-test.fuzzworker") {
			return true
		}
	}
	return false
}
