package hooks

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/syncoptions"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwave"
)

func object(apiVersion, kind, namespace, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

func annotated(o *unstructured.Unstructured, kv ...string) *unstructured.Unstructured {
	a := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	o.SetAnnotations(a)
	return o
}

func TestSplit(t *testing.T) {
	generated := object("batch/v1", "Job", "shop", "")
	generated.SetGenerateName("migrate-")
	objs := []*unstructured.Unstructured{
		object("apps/v1", "Deployment", "shop", "web"),
		annotated(object("batch/v1", "Job", "shop", "smoke"), Annotation, "PostSync", DeletePolicyAnnotation, "HookSucceeded"),
		annotated(generated, ArgoCDAnnotation, "PreSync", syncwave.Annotation, "-1"),
		annotated(object("v1", "ConfigMap", "shop", "legacy"), ArgoCDAnnotation, "Skip"),
		annotated(object("batch/v1", "Job", "shop", "backup"), Annotation, "PreSync"),
		object("v1", "Service", "shop", "web"),
	}
	resources, found, err := Split(objs)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range resources {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	if got := strings.Join(names, " "); got != "Deployment/web Service/web" {
		t.Errorf("resources %q: hooks and Skip objects must not be among them", got)
	}
	var hs []string
	for _, h := range found {
		hs = append(hs, Name(h.Object)+":"+string(h.Types[0])+":"+string(h.Policies[0]))
	}
	// By wave, then name; the Skip object is no hook to run.
	if got := strings.Join(hs, " "); got != "Job/migrate-*:PreSync:BeforeHookCreation Job/backup:PreSync:BeforeHookCreation Job/smoke:PostSync:HookSucceeded" {
		t.Errorf("hooks %q", got)
	}

	_, _, err = Split([]*unstructured.Unstructured{
		annotated(object("batch/v1", "Job", "shop", "a"), Annotation, "Later"),
		annotated(object("batch/v1", "Job", "shop", "b"), Annotation, "PreSync", DeletePolicyAnnotation, "Always"),
		annotated(object("v1", "ConfigMap", "shop", "c"), syncoptions.Annotation, "Prune=never"),
	})
	for _, want := range []string{"Job/a", `"Later"`, "Job/b", `"Always"`, "ConfigMap/c", `"Prune=never"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

func TestHookFinished(t *testing.T) {
	cases := []struct {
		name     string
		y        string
		done, ok bool
	}{
		{"job running", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m}\nstatus: {active: 1}\n", false, false},
		{"job complete", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m}\nstatus: {succeeded: 1, conditions: [{type: Complete, status: \"True\"}]}\n", true, true},
		{"job failed", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: m}\nstatus: {failed: 1, conditions: [{type: Failed, status: \"True\", reason: BackoffLimitExceeded}]}\n", true, false},
		{"pod pending", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Pending}\n", false, false},
		{"pod running", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Running}\n", false, false},
		{"pod succeeded", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Succeeded}\n", true, true},
		{"pod failed", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus: {phase: Failed}\n", true, false},
		{"a configmap is done once created", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(tc.y), &u.Object); err != nil {
				t.Fatal(err)
			}
			done, ok, msg := Finished(&u)
			if done != tc.done || ok != tc.ok || msg == "" {
				t.Errorf("Finished = %v, %v, %q; want %v, %v", done, ok, msg, tc.done, tc.ok)
			}
		})
	}
}
