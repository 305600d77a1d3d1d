package render

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// aliasBomb is a "billion laughs" document: each level is a list of nine aliases of the level
// before, so levels nodes become 9^levels once the aliases are copied.
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: laughs\n  annotations:\n")
	b.WriteString(`    l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "    l%d: &l%d [*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d,*l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	return b.String()
}

// TestAliasBombIsRefusedBeforeKustomizeExpandsIt: seven levels are a few hundred bytes of YAML
// and tens of GiB once kustomize has copied the aliases; the render is refused, naming the file.
func TestAliasBombIsRefusedBeforeKustomizeExpandsIt(t *testing.T) {
	bomb := aliasBomb(7)
	if len(bomb) > 1024 {
		t.Fatalf("the bomb is %d bytes; it is meant to be small", len(bomb))
	}
	repo := files(
		"app/kustomization.yaml", "resources: [deployment.yaml, laughs.yaml]\n",
		"app/deployment.yaml", deploymentWithAnchors,
		"app/laughs.yaml", bomb,
	)
	objs, err := Render(repo, "app", Options{})
	var rerr *Error
	if !errors.As(err, &rerr) || rerr.File != "app/laughs.yaml" || !strings.Contains(rerr.Reason, "YAML aliases expand to more than") {
		t.Fatalf("got %v (%d objects); want a refusal naming app/laughs.yaml and its aliases", err, len(objs))
	}
}

// deploymentWithAnchors uses anchors as people do: one env list and one resources block shared
// by two containers.
const deploymentWithAnchors = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:v1
        env: &env
        - {name: LOG_LEVEL, value: info}
        - {name: REGION, value: eu-west-1}
        resources: &resources
          requests: {cpu: 100m, memory: 128Mi}
      - name: sidecar
        image: registry.example.com/proxy:v3
        env: *env
        resources: *resources
`

// TestAnchorsAsPeopleUseThemRender: the bound leaves ordinary anchors alone, and kustomize
// expands them.
func TestAnchorsAsPeopleUseThemRender(t *testing.T) {
	repo := files(
		"app/kustomization.yaml", "resources: [deployment.yaml, laughs.yaml]\n",
		"app/deployment.yaml", deploymentWithAnchors,
		// Four levels: 6,561 nodes, within any sane bound.
		"app/laughs.yaml", aliasBomb(4),
	)
	objs, err := Render(repo, "app", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if len(containers) != 2 {
			t.Fatalf("%d containers", len(containers))
		}
		sidecar := containers[1].(map[string]interface{})
		env, _ := sidecar["env"].([]interface{})
		if len(env) != 2 || env[1].(map[string]interface{})["value"] != "eu-west-1" {
			t.Fatalf("the sidecar's env is %v, want the anchored list", sidecar["env"])
		}
		return
	}
	t.Fatal("no Deployment rendered")
}

// TestAliasCycleIsRefused: an anchor that contains its own alias never ends when copied.
func TestAliasCycleIsRefused(t *testing.T) {
	repo := files(
		"app/kustomization.yaml", "resources: [cycle.yaml]\n",
		"app/cycle.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: &d {k: *d}\n",
	)
	if _, err := Render(repo, "app", Options{}); err == nil {
		t.Fatal("a self-referencing anchor rendered")
	}
}
