package apply_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/serviceaccount"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

var stack *localstack.Stack

func TestMain(m *testing.M) {
	os.Exit(localstack.Main(m, localstack.Options{}, &stack))
}

func requireCluster(t *testing.T) *rest.Config {
	t.Helper()
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	return stack.RestConfig("admin")
}

var nsCounter atomic.Int64

// namespace returns a fresh namespace name for one test; the set under test creates it.
func namespace(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%100000, nsCounter.Add(1))
}

func objects(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		j, err := yaml.YAMLToJSON([]byte(d))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func nsDoc(name string) string {
	return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n"
}

func cmDoc(name, value string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  key: \"" + value + "\"\n"
}

func get(t *testing.T, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	dc := dynamic.NewForConfigOrDie(requireCluster(t))
	return dc.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
}

var (
	configMaps   = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	clusterRoles = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
)

func prepareAndApply(t *testing.T, a *apply.Applier, app apply.App, user string, objs []*unstructured.Unstructured, opts apply.Options) ([]apply.Result, error) {
	t.Helper()
	ctx := context.Background()
	if err := a.Prepare(ctx, app, user, objs, opts.DefaultNamespace); err != nil {
		return nil, err
	}
	return a.Apply(ctx, user, objs, opts)
}

func actions(results []apply.Result) map[string]apply.Action {
	m := map[string]apply.Action{}
	for _, r := range results {
		m[r.Ref.Kind+"/"+r.Ref.Name] = r.Action
	}
	return m
}

func TestApplyTracksAndSkipsUnchanged(t *testing.T) {
	a := apply.NewApplier(requireCluster(t))
	ns := namespace("track")
	app := apply.App{Namespace: "default", Name: "web"}
	role := "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: " + ns + "-reader\n  namespace: ignored\nrules: []\n"
	objs := objects(t, nsDoc(ns), cmDoc("settings", "1"), role)

	results, err := prepareAndApply(t, a, app, "", objs, apply.Options{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/settings"] != apply.Created || got["Namespace/"+ns] != apply.Created {
		t.Errorf("first apply: %v", got)
	}
	cm, err := get(t, configMaps, ns, "settings")
	if err != nil {
		t.Fatalf("the ConfigMap went into the destination namespace: %v", err)
	}
	if want := "default/web:/ConfigMap:" + ns + "/settings"; cm.GetAnnotations()[apply.TrackingAnnotation] != want {
		t.Errorf("tracking annotation %q, want %q", cm.GetAnnotations()[apply.TrackingAnnotation], want)
	}
	if cm.GetLabels()[apply.AppLabel] != "default.web" {
		t.Errorf("app label %q", cm.GetLabels()[apply.AppLabel])
	}
	managers := []string{}
	for _, mf := range cm.GetManagedFields() {
		managers = append(managers, mf.Manager)
	}
	if strings.Join(managers, ",") != apply.FieldManager {
		t.Errorf("field managers %v, want only %s", managers, apply.FieldManager)
	}
	if cr, err := get(t, clusterRoles, "", ns+"-reader"); err != nil || cr.GetNamespace() != "" {
		t.Errorf("cluster-scoped ClusterRole: %v, namespace %q", err, cr.GetNamespace())
	}

	again, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns), cmDoc("settings", "1"), role), apply.Options{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(again); got["ConfigMap/settings"] != apply.Unchanged {
		t.Errorf("second apply of the same set: %v", got)
	}
	cm2, _ := get(t, configMaps, ns, "settings")
	if cm2.GetResourceVersion() != cm.GetResourceVersion() {
		t.Errorf("an unchanged apply wrote the ConfigMap (resourceVersion %s -> %s)", cm.GetResourceVersion(), cm2.GetResourceVersion())
	}

	changed, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns), cmDoc("settings", "2"), role), apply.Options{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(changed); got["ConfigMap/settings"] != apply.Configured {
		t.Errorf("apply of a changed value: %v", got)
	}
}

func TestOneInvalidObjectAppliesNothing(t *testing.T) {
	a := apply.NewApplier(requireCluster(t))
	ns := namespace("invalid")
	app := apply.App{Namespace: "default", Name: "bad"}
	if _, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns)), apply.Options{}); err != nil {
		t.Fatal(err)
	}
	badDeploy := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: broken\nspec:\n  template:\n    spec:\n      containers: []\n"
	_, err := prepareAndApply(t, a, app, "", objects(t, cmDoc("good", "1"), badDeploy), apply.Options{DefaultNamespace: ns})
	if err == nil || !strings.Contains(err.Error(), "Deployment.apps/"+ns+"/broken") || !strings.Contains(err.Error(), "nothing was applied") {
		t.Fatalf("got %v; want a dry-run error naming the Deployment", err)
	}
	if _, err := get(t, configMaps, ns, "good"); !apierrors.IsNotFound(err) {
		t.Errorf("the valid ConfigMap was applied despite the invalid Deployment: %v", err)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	a := apply.NewApplier(requireCluster(t))
	ns := namespace("dry")
	app := apply.App{Namespace: "default", Name: "dry"}
	if _, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns)), apply.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareAndApply(t, a, app, "", objects(t, cmDoc("c", "1")), apply.Options{DefaultNamespace: ns, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := get(t, configMaps, ns, "c"); !apierrors.IsNotFound(err) {
		t.Errorf("dry run created the ConfigMap: %v", err)
	}
}

func TestCRDAndItsCustomResourcesInOneSet(t *testing.T) {
	a := apply.NewApplier(requireCluster(t))
	ns := namespace("crd")
	group := ns + ".ferry.test"
	crd := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + group + `
spec:
  group: ` + group + `
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`
	cr := "apiVersion: " + group + "/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  size: 3\n"
	results, err := prepareAndApply(t, a, apply.App{Namespace: "default", Name: "crd"}, "", objects(t, nsDoc(ns), crd, cr), apply.Options{DefaultNamespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["Widget/w"] != apply.Created {
		t.Errorf("results %v", got)
	}
	w, err := get(t, schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}, ns, "w")
	if err != nil {
		t.Fatalf("the custom resource: %v", err)
	}
	if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 3 {
		t.Errorf("size = %d", size)
	}
}

func TestPruneOnlyWhatThisApplicationOwns(t *testing.T) {
	cfg := requireCluster(t)
	a := apply.NewApplier(cfg)
	ns := namespace("prune")
	app := apply.App{Namespace: "default", Name: "pruner"}
	ctx := context.Background()
	objs := objects(t, nsDoc(ns), cmDoc("keep", "1"), cmDoc("gone", "1"))
	if _, err := prepareAndApply(t, a, app, "", objs, apply.Options{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	var inventory []apply.ObjectRef
	for _, o := range objs {
		inventory = append(inventory, apply.RefOf(o))
	}

	// Someone else's ConfigMap that Ferry never applied, and one claimed by another Application.
	dc := dynamic.NewForConfigOrDie(cfg)
	for name, ann := range map[string]map[string]string{"stranger": nil, "claimed": {apply.TrackingAnnotation: "default/other:/ConfigMap:" + ns + "/claimed"}} {
		u := objects(t, cmDoc(name, "x"))[0]
		u.SetAnnotations(ann)
		if _, err := dc.Resource(configMaps).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		inventory = append(inventory, apply.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name})
	}

	desired := objects(t, nsDoc(ns), cmDoc("keep", "1"))
	if err := a.Prepare(ctx, app, "", desired, ns); err != nil {
		t.Fatal(err)
	}

	results, err := a.Prune(ctx, app, "", inventory, desired, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(results); got["ConfigMap/gone"] != apply.Deleted {
		t.Errorf("dry-run prune: %v", got)
	}
	if _, err := get(t, configMaps, ns, "gone"); err != nil {
		t.Errorf("a dry-run prune deleted: %v", err)
	}

	results, err = a.Prune(ctx, app, "", inventory, desired, false)
	if err != nil {
		t.Fatal(err)
	}
	got := actions(results)
	if got["ConfigMap/gone"] != apply.Deleted || got["ConfigMap/stranger"] != apply.Skipped || got["ConfigMap/claimed"] != apply.Skipped {
		t.Errorf("prune results %v", got)
	}
	if _, ok := got["ConfigMap/keep"]; ok {
		t.Errorf("an object still in Git was considered for pruning")
	}
	if live, err := get(t, configMaps, ns, "gone"); err == nil && live.GetDeletionTimestamp() == nil {
		t.Errorf("the object that left Git is still there")
	}
	for _, name := range []string{"keep", "stranger", "claimed"} {
		if _, err := get(t, configMaps, ns, name); err != nil {
			t.Errorf("%s was deleted: %v", name, err)
		}
	}
}

func TestImpersonatedServiceAccount(t *testing.T) {
	cfg := requireCluster(t)
	a := apply.NewApplier(cfg)
	ns := namespace("imp")
	ctx := context.Background()
	if _, err := prepareAndApply(t, a, apply.App{Namespace: "default", Name: "setup"}, "", objects(t, nsDoc(ns)), apply.Options{}); err != nil {
		t.Fatal(err)
	}
	deployer := serviceaccount.MakeUsername(ns, "deployer")
	app := apply.App{Namespace: ns, Name: "limited"}

	_, err := prepareAndApply(t, a, app, deployer, objects(t, cmDoc("c", "1")), apply.Options{DefaultNamespace: ns})
	if !apply.IsForbidden(err) || !strings.Contains(err.Error(), "deployer") {
		t.Fatalf("a ServiceAccount without rights: %v; want Forbidden naming it", err)
	}
	if _, err := get(t, configMaps, ns, "c"); !apierrors.IsNotFound(err) {
		t.Errorf("the forbidden apply created the ConfigMap: %v", err)
	}

	grant := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: ` + ns + `}
rules:
- {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch, create, update, patch, delete]}
---
`
	binding := `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer, namespace: ` + ns + `}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects:
- {kind: ServiceAccount, name: deployer, namespace: ` + ns + `}
`
	if _, err := prepareAndApply(t, a, apply.App{Namespace: "default", Name: "setup"}, "", objects(t, strings.TrimSuffix(grant, "---\n"), binding), apply.Options{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	// RBAC takes effect through the authorizer's cache: poll with a deadline.
	eventually.Until(t, 30*time.Second, 200*time.Millisecond, "applying as the deployer after the grant", func() (bool, string) {
		_, err := prepareAndApply(t, a, app, deployer, objects(t, cmDoc("c", "1")), apply.Options{DefaultNamespace: ns})
		return err == nil, fmt.Sprint(err)
	})
	cm, err := get(t, configMaps, ns, "c")
	if err != nil {
		t.Fatal(err)
	}
	if cm.GetManagedFields()[0].Manager != apply.FieldManager {
		t.Errorf("managed by %s", cm.GetManagedFields()[0].Manager)
	}
	_ = ctx
}

func TestIgnoredFieldsAreNotOverwritten(t *testing.T) {
	cfg := requireCluster(t)
	a := apply.NewApplier(cfg)
	ns := namespace("ignore")
	app := apply.App{Namespace: "default", Name: "ign"}
	ctx := context.Background()
	if _, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns), cmDoc("scaled", "git")), apply.Options{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	// Another actor changes the ignored field.
	dc := dynamic.NewForConfigOrDie(cfg)
	patch := []byte(`{"data":{"key":"hand-edited"}}`)
	if _, err := dc.Resource(configMaps).Namespace(ns).Patch(ctx, "scaled", "application/merge-patch+json", patch, metav1.PatchOptions{FieldManager: "someone"}); err != nil {
		t.Fatal(err)
	}
	ignore := []apply.IgnoreRule{{Kind: "ConfigMap", Name: "scaled", JSONPointers: []string{"/data/key"}}}
	if _, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns), cmDoc("scaled", "git")), apply.Options{DefaultNamespace: ns, Ignore: ignore}); err != nil {
		t.Fatal(err)
	}
	cm, _ := get(t, configMaps, ns, "scaled")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "key"); v != "hand-edited" {
		t.Errorf("ignored field overwritten: %q", v)
	}
	// Without the rule, Git wins.
	if _, err := prepareAndApply(t, a, app, "", objects(t, nsDoc(ns), cmDoc("scaled", "git")), apply.Options{DefaultNamespace: ns}); err != nil {
		t.Fatal(err)
	}
	cm, _ = get(t, configMaps, ns, "scaled")
	if v, _, _ := unstructured.NestedString(cm.Object, "data", "key"); v != "git" {
		t.Errorf("without the rule the value is %q, want git", v)
	}
}
