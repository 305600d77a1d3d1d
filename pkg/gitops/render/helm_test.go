package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// guestbookChart is a chart as teams write them: helpers, a Deployment and a Service from
// values, a ConfigMap, a CRD, a pre-install hook, a test hook and NOTES.
func guestbookChart(dir string) []source.File {
	files := map[string]string{
		"Chart.yaml":       "apiVersion: v2\nname: guestbook\nversion: 1.2.3\nappVersion: \"2.0\"\n",
		"values.yaml":      "replicas: 1\nimage: {repository: registry.example.com/guestbook, tag: \"1.0\"}\nport: 8080\ngreeting: hello\n",
		"values-prod.yaml": "replicas: 3\n",
		"templates/_helpers.tpl": `{{- define "guestbook.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "guestbook.labels" -}}app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}{{- end -}}`,
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "guestbook.fullname" . }}
  labels: {{- include "guestbook.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {{- include "guestbook.labels" . | nindent 6 }}
  template:
    metadata:
      labels: {{- include "guestbook.labels" . | nindent 8 }}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        ports: [{containerPort: {{ .Values.port }}}]
`,
		"templates/service.yaml": `apiVersion: v1
kind: Service
metadata: {name: {{ include "guestbook.fullname" . }}, namespace: {{ .Release.Namespace }}}
spec:
  ports: [{port: 80, targetPort: {{ .Values.port }}}]
`,
		"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: {{ include "guestbook.fullname" . }}-config}
data:
  greeting: {{ .Values.greeting | quote }}
  build: {{ .Values.build | default "none" | quote }}
`,
		"templates/migrate.yaml": `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "guestbook.fullname" . }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"}]
`,
		"templates/tests/connection.yaml": `apiVersion: v1
kind: Pod
metadata:
  name: {{ include "guestbook.fullname" . }}-test
  annotations: {helm.sh/hook: test}
spec:
  containers: [{name: wget, image: busybox}]
`,
		"templates/NOTES.txt": "Visit {{ include \"guestbook.fullname\" . }}\n",
		"crds/widgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`,
	}
	var out []source.File
	for name, content := range files {
		out = append(out, source.File{Path: dir + "/" + name, Data: []byte(content)})
	}
	return out
}

func byKindName(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		out[o.GetKind()+"/"+o.GetName()] = o
	}
	return out
}

// TestAChartInGitRendersAsHelmTemplateWould: a chart at the path is found by its Chart.yaml and
// rendered with its values, a value file and --set parameters; the CRD comes first-class, the
// pre-install hook as a PreSync hook in its weight's wave, and neither the test hook nor NOTES.
func TestAChartInGitRendersAsHelmTemplateWould(t *testing.T) {
	objs, err := Render(guestbookChart("charts/guestbook"), "charts/guestbook", Options{
		ChartDefaults: &HelmOptions{ReleaseName: "web", Namespace: "team-a"},
		Helm: &HelmOptions{ReleaseName: "web", Namespace: "team-a", ValueFiles: []string{"values-prod.yaml"},
			Values:     []byte(`{"image": {"tag": "2.1"}}`),
			Parameters: []HelmParameter{{Name: "port", Value: "9090"}, {Name: "build", Value: "1234", ForceString: true}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := byKindName(objs)
	var names []string
	for k := range got {
		names = append(names, k)
	}
	for _, want := range []string{"Deployment/web-guestbook", "Service/web-guestbook", "ConfigMap/web-guestbook-config", "CustomResourceDefinition/widgets.example.com", "Job/web-guestbook-migrate"} {
		if got[want] == nil {
			t.Errorf("no %s among %v", want, names)
		}
	}
	if len(got) != 5 {
		t.Errorf("rendered %v; the test hook and NOTES.txt must not be objects", names)
	}
	dep := got["Deployment/web-guestbook"]
	if r, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %d, want 3 from values-prod.yaml", r)
	}
	containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "registry.example.com/guestbook:2.1" {
		t.Errorf("image %v, want the tag from spec.source.helm.values", c["image"])
	}
	if port := c["ports"].([]any)[0].(map[string]any)["containerPort"]; port != int64(9090) && port != float64(9090) {
		t.Errorf("containerPort %v (%T), want the number 9090 from --set", port, port)
	}
	if b, _, _ := unstructured.NestedString(got["ConfigMap/web-guestbook-config"].Object, "data", "build"); b != "1234" {
		t.Errorf("build %q, want 1234 from --set-string", b)
	}
	if ns := got["Service/web-guestbook"].GetNamespace(); ns != "team-a" {
		t.Errorf(".Release.Namespace rendered %q", ns)
	}
	job := got["Job/web-guestbook-migrate"].GetAnnotations()
	if job["gitops.ferry.dev/hook"] != "PreSync" || job["gitops.ferry.dev/sync-wave"] != "-5" ||
		!strings.Contains(job["gitops.ferry.dev/hook-delete-policy"], "BeforeHookCreation") || !strings.Contains(job["gitops.ferry.dev/hook-delete-policy"], "HookSucceeded") {
		t.Errorf("the pre-install hook's annotations: %v", job)
	}
}

// TestABrokenChartIsAnErrorNamingIt: a template error names the template and the line.
func TestABrokenChartIsAnErrorNamingIt(t *testing.T) {
	files := guestbookChart("app")
	files = append(files, source.File{Path: "app/templates/broken.yaml", Data: []byte("kind: ConfigMap\nmetadata: {name: {{ .Values.missing.deep }}}\n")})
	_, err := Render(files, "app", Options{ChartDefaults: &HelmOptions{ReleaseName: "web", Namespace: "default"}})
	if err == nil || !strings.Contains(err.Error(), "templates/broken.yaml") {
		t.Fatalf("want an error naming templates/broken.yaml, got %v", err)
	}
}

// TestValueFilesOfAnotherSource: $<ref>/ value files come from RefValues, merged in their place
// among the chart's own, even when the chart's repository holds a file of the same path; one
// RefValues does not hold is an error naming it.
func TestValueFilesOfAnotherSource(t *testing.T) {
	files := append(guestbookChart("app"), source.File{Path: "app/$values/prod.yaml", Data: []byte("greeting: from-the-chart-repository\n")})
	helm := &HelmOptions{ReleaseName: "web", Namespace: "default", ValueFiles: []string{"$values/prod.yaml", "values-prod.yaml"},
		RefValues: map[string][]byte{"$values/prod.yaml": []byte("replicas: 7\ngreeting: bonjour\n")}}
	objs, err := Render(files, "app", Options{Helm: helm})
	if err != nil {
		t.Fatal(err)
	}
	got := byKindName(objs)
	if r, _, _ := unstructured.NestedInt64(got["Deployment/web-guestbook"].Object, "spec", "replicas"); r != 3 {
		t.Errorf("replicas %d, want 3: values-prod.yaml comes after the other source's file", r)
	}
	if g, _, _ := unstructured.NestedString(got["ConfigMap/web-guestbook-config"].Object, "data", "greeting"); g != "bonjour" {
		t.Errorf("greeting %q, want bonjour from the other source's file, not the chart's own app/$values/prod.yaml", g)
	}

	helm.ValueFiles = []string{"$values/missing.yaml"}
	if _, err := Render(files, "app", Options{Helm: helm}); err == nil || !strings.Contains(err.Error(), "$values/missing.yaml") {
		t.Errorf("want an error naming $values/missing.yaml, got %v", err)
	}
}
