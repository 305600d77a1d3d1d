package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/diff"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/test/corpus"
)

// TestCorpusSyncsLikeKubectlKustomize deploys every path of the corpus of real-world-shaped
// repositories (test/corpus: kustomize bases, components and dev/staging/production overlays
// with Deployments, Services, HPAs, PDBs, Ingresses, StatefulSets with volumeClaimTemplates,
// CronJobs, PVCs, generators from files and literals, namespace/namePrefix/labels/commonLabels/
// images/replicas, strategic-merge and JSON 6902 patches, an overlay creating its own Namespace;
// plain directories with multi-document files, Lists and JSON; a CRD with its custom resources)
// through the local stack, each with its own Application.
//
// For each path it checks, at the first commit and again after a second commit that changes a
// number, removes an object and adds one:
//   - the inventory is exactly the set of objects the real `kubectl kustomize` renders for the
//     path (for a plain directory, what `kubectl create --dry-run=client -R -f` reads);
//   - Ferry's render (the manifests subresource) equals kubectl's object by object, Ferry's
//     tracking annotation and label and the defaulted namespace aside;
//   - every live object holds every field kubectl rendered, with the same value;
//   - objects that left Git are gone from the cluster.
func TestCorpusSyncsLikeKubectlKustomize(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	ns := newNamespace(t, "corpus")
	dyn, err := dynamic.NewForConfig(s.restConfig(Admin))
	if err != nil {
		t.Fatal(err)
	}

	type deployed struct {
		repo     corpus.Repo
		app      corpus.App
		name     string // of the Application
		dest     string
		expected []*unstructured.Unstructured // by kubectl, at the commit being checked
	}
	var apps []*deployed
	repos := map[string]*gittest.Repo{}
	first := map[string]string{}
	for _, repo := range corpus.Repos() {
		r := srv.NewRepo(repo.Name)
		repos[repo.Name] = r
		first[repo.Name] = r.Commit("main", repo.Files(), "first")
		for _, app := range repo.Apps {
			d := &deployed{repo: repo, app: app, name: repo.Name + "-" + strings.ReplaceAll(app.Path, "/", "-")}
			d.dest = newNamespace(t, "corpus-dest")
			edits := map[string]any{}
			if app.Recurse {
				edits["source.directory"] = map[string]any{"recurse": true}
			}
			kubectlStdin(t, Admin, gitApp(ns, d.name, r, app.Path, d.dest, edits), "apply", "-f", "-")
			apps = append(apps, d)
		}
	}
	// The Namespaces the overlays create and the CRD outlive the test namespaces otherwise.
	t.Cleanup(func() {
		if os.Getenv("FERRY_E2E_KEEP") == "1" {
			return
		}
		stack.Run(Admin, "", "delete", "applications", "--all", "-n", ns, "--wait=true", "--timeout=60s")
		for _, repo := range corpus.Repos() {
			for _, app := range repo.Apps {
				if app.OwnNamespace != "" {
					stack.Run(Admin, "", "delete", "namespace", app.OwnNamespace, "--ignore-not-found", "--wait=false")
				}
			}
		}
		stack.Run(Admin, "", "delete", "crd", "widgets.corpus.ferry.dev", "--ignore-not-found", "--wait=false")
	})

	check := func(commit string, revisions map[string]string, trees map[string]map[string]string) {
		t.Helper()
		for _, d := range apps {
			d.expected = kubectlRender(t, s, trees[d.repo.Name], d.app, d.dest)
		}
		for _, d := range apps {
			sha := revisions[d.repo.Name]
			app := waitApp(t, ns, d.name, d.name+" synced at the "+commit+" commit", func(a *gitopsv1alpha1.Application) bool {
				return synced(a) && a.Status.Sync.Revision == sha
			})
			if c := condition(app, gitopsv1alpha1.ConditionStalled); !strings.HasPrefix(c, "False") {
				t.Errorf("%s: Stalled %s", d.name, c)
			}
			// Kinds of the corpus's own CRD map only once it is applied: a fresh mapper each time.
			mapper := newMapper(t, s)
			want := map[string]*unstructured.Unstructured{}
			for _, o := range d.expected {
				if o.GetNamespace() == "" && namespaced(t, mapper, o) {
					o.SetNamespace(d.dest)
				}
				want[objectKey(o)] = o
			}

			// The inventory is exactly kubectl's set.
			var got []string
			for _, r := range app.Status.Resources {
				got = append(got, fmt.Sprintf("%s/%s %s/%s", r.Group, r.Kind, r.Namespace, r.Name))
			}
			if g, w := sortedKeys(got), sortedKeys(keysOf(want)); !reflect.DeepEqual(g, w) {
				t.Errorf("%s at the %s commit: the inventory differs from kubectl's render\n ferry:   %v\n kubectl: %v", d.name, commit, g, w)
				continue
			}

			// Ferry's render equals kubectl's.
			manifests, err := ferryClient(t, Admin).GitopsV1alpha1().Applications(ns).Manifests(ctxFor(t), d.name, gitopsv1alpha1.ApplicationManifestsOptions{Revision: sha})
			if err != nil {
				t.Fatalf("%s: manifests: %v", d.name, err)
			}
			for _, raw := range manifests.Objects {
				rendered := &unstructured.Unstructured{}
				if err := rendered.UnmarshalJSON(raw.Raw); err != nil {
					t.Fatal(err)
				}
				withoutTracking(rendered)
				expected, ok := want[objectKey(rendered)]
				if !ok {
					t.Errorf("%s: Ferry renders %s, which kubectl does not", d.name, objectKey(rendered))
					continue
				}
				masked := expected.DeepCopy()
				diff.MaskSecret(masked)
				if !reflect.DeepEqual(normalizeNumbers(rendered.Object), normalizeNumbers(masked.Object)) {
					t.Errorf("%s at the %s commit: Ferry's render of %s differs from kubectl's\n ferry:   %v\n kubectl: %v", d.name, commit, objectKey(rendered), rendered.Object, masked.Object)
				}
			}

			// The live objects hold what kubectl rendered.
			for key, o := range want {
				live, err := liveObject(t, dyn, mapper, o)
				if err != nil {
					t.Errorf("%s: %s is not in the cluster: %v", d.name, key, err)
					continue
				}
				if path, ok := contains(live.Object, o.Object, ""); !ok {
					t.Errorf("%s at the %s commit: live %s differs from kubectl's render at %s\n live:    %v\n kubectl: %v", d.name, commit, key, path, live.Object, o.Object)
				}
			}
		}
	}

	firstTrees := map[string]map[string]string{}
	for _, repo := range corpus.Repos() {
		firstTrees[repo.Name] = repo.Files()
	}
	check("first", first, firstTrees)
	before := map[*deployed][]*unstructured.Unstructured{}
	for _, d := range apps {
		before[d] = d.expected
	}

	// The second commit: a number changed, an object removed and one added in every path.
	second := map[string]string{}
	secondTrees := map[string]map[string]string{}
	for _, repo := range corpus.Repos() {
		second[repo.Name] = repos[repo.Name].Commit("main", repo.Changed(), "second")
		secondTrees[repo.Name] = repo.After()
	}
	check("second", second, secondTrees)
	mapper := newMapper(t, s)
	for _, d := range apps {
		now := map[string]bool{}
		for _, o := range d.expected {
			now[objectKey(o)] = true
		}
		removed, kept := 0, 0
		for _, o := range before[d] {
			if now[objectKey(o)] {
				kept++
				continue
			}
			removed++
			if _, err := liveObject(t, dyn, mapper, o); !apierrors.IsNotFound(err) {
				t.Errorf("%s: %s left Git but was not pruned (%v)", d.name, objectKey(o), err)
			}
		}
		if removed == 0 || len(d.expected) == kept {
			t.Errorf("%s: the second commit should remove and add objects (%s): removed %d, added %d", d.name, d.app.Change, removed, len(d.expected)-kept)
		}
	}
}

// kubectlRender is what the real kubectl renders for app in tree: `kubectl kustomize` of a
// kustomization, or the objects `kubectl create --dry-run=client` reads from a plain directory
// (namespaced ones defaulted to dest, as Ferry defaults them to spec.destination.namespace).
func kubectlRender(t *testing.T, s *Stack, tree map[string]string, app corpus.App, dest string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	for p, data := range tree {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, filepath.FromSlash(app.Path))
	var r Result
	if app.Kustomize {
		r = s.Run(Admin, "", "kustomize", path)
	} else {
		args := []string{"create", "--dry-run=client", "-o", "yaml", "-n", dest, "-f", path}
		if app.Recurse {
			args = append(args, "-R")
		}
		r = s.Run(Admin, "", args...)
	}
	if r.Err != nil {
		t.Fatalf("%s", r)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(r.Stdout), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("reading kubectl's output: %v\n%s", err, r.Stdout)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				t.Fatal(err)
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		objs = append(objs, u)
	}
	if len(objs) == 0 {
		t.Fatalf("kubectl rendered nothing for %s:\n%s", app.Path, r)
	}
	return objs
}

func newMapper(t *testing.T, s *Stack) meta.RESTMapper {
	t.Helper()
	dc, err := discovery.NewDiscoveryClientForConfig(s.restConfig(Admin))
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatal(err)
	}
	return restmapper.NewDiscoveryRESTMapper(groups)
}

func namespaced(t *testing.T, mapper meta.RESTMapper, o *unstructured.Unstructured) bool {
	t.Helper()
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s: %v", objectKey(o), err)
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}

func liveObject(t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	t.Helper()
	gvk := o.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return dyn.Resource(m.Resource).Namespace(o.GetNamespace()).Get(ctxFor(t), o.GetName(), metav1.GetOptions{})
	}
	return dyn.Resource(m.Resource).Get(ctxFor(t), o.GetName(), metav1.GetOptions{})
}

// objectKey names an object as the inventory does: group/Kind namespace/name.
func objectKey(o *unstructured.Unstructured) string {
	return fmt.Sprintf("%s/%s %s/%s", o.GroupVersionKind().Group, o.GetKind(), o.GetNamespace(), o.GetName())
}

// withoutTracking removes Ferry's tracking annotation and label, and the maps they leave empty.
func withoutTracking(o *unstructured.Unstructured) {
	ann := o.GetAnnotations()
	delete(ann, apply.TrackingAnnotation)
	if len(ann) == 0 {
		unstructured.RemoveNestedField(o.Object, "metadata", "annotations")
	} else {
		o.SetAnnotations(ann)
	}
	labels := o.GetLabels()
	delete(labels, apply.AppLabel)
	if len(labels) == 0 {
		unstructured.RemoveNestedField(o.Object, "metadata", "labels")
	} else {
		o.SetLabels(labels)
	}
}

// contains reports whether got holds every field of want with an equal value (lists element by
// element, numbers by value), and where it does not.
func contains(got, want any, path string) (string, bool) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path, false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				if wv == nil {
					continue // an explicit null is the same as absent
				}
				return path + "." + k, false
			}
			if p, ok := contains(gv, wv, path+"."+k); !ok {
				return p, false
			}
		}
		return "", true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return path, false
		}
		for i := range w {
			if p, ok := contains(g[i], w[i], fmt.Sprintf("%s[%d]", path, i)); !ok {
				return p, false
			}
		}
		return "", true
	default:
		return path, reflect.DeepEqual(normalizeNumbers(got), normalizeNumbers(want))
	}
}

// normalizeNumbers makes every number a float64, so 80 read by two decoders compares equal.
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = normalizeNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = normalizeNumbers(e)
		}
		return out
	case int64:
		return float64(v)
	case int:
		return float64(v)
	default:
		return v
	}
}

func keysOf(m map[string]*unstructured.Unstructured) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func sortedKeys(keys []string) []string {
	out := append([]string(nil), keys...)
	sort.Strings(out)
	return out
}

// TestKustomizationWithNumbersSyncsAndTheServerStaysUp is the first kustomization of many
// users — a Service with port numbers — which used to crash ferry-apiserver (kustomize's Go
// ints in unstructured objects) and every user's API with it.
func TestKustomizationWithNumbersSyncsAndTheServerStaysUp(t *testing.T) {
	s := requireStack(t)
	pid, err := s.Pid("ferry-apiserver")
	if err != nil {
		t.Fatal(err)
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("numbers")
	sha := repo.Commit("main", map[string]string{
		"app/kustomization.yaml": "resources: [svc.yaml]\n",
		"app/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n",
	}, "a Service with numbers")
	ns := newNamespace(t, "numbers")
	dest := newNamespace(t, "numbers-dest")
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "app", dest, nil), "apply", "-f", "-")
	waitApp(t, ns, "web", "Synced and Healthy", func(a *gitopsv1alpha1.Application) bool {
		return synced(a) && a.Status.Sync.Revision == sha && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
	})
	if ports := kubectl(t, "get", "service", "web", "-n", dest, "-o", "jsonpath={.spec.ports[0].port}->{.spec.ports[0].targetPort}"); ports != "80->8080" {
		t.Errorf("Service ports %s, want 80->8080", ports)
	}
	// Reads of it work too, and the same process served everything.
	if out := kubectl(t, "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/manifests"); !strings.Contains(out, `"port":80`) {
		t.Errorf("manifests: %s", out)
	}
	if now, err := s.Pid("ferry-apiserver"); err != nil || now != pid || !pidAlive(pid) {
		t.Errorf("ferry-apiserver was pid %d before, now %d (%v, alive %v): it restarted", pid, now, err, pidAlive(pid))
	}
}
