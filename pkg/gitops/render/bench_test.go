package render

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// benchSizes are the object counts each rendering benchmark runs with.
var benchSizes = []int{10, 100}

const benchService = `apiVersion: v1
kind: Service
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: %[1]s
  ports:
  - name: http
    port: 80
    targetPort: http
    protocol: TCP
`

const benchDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
    spec:
      containers:
      - name: app
        image: registry.example.com/team/%[1]s:v1.2.3
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: LOG_LEVEL
          value: info
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {memory: 256Mi}
        readinessProbe:
          httpGet: {path: /healthz, port: http}
          periodSeconds: 10
`

// benchManifests returns n objects cycling through ConfigMap, Service and Deployment, one file
// each under dir, as a repository lays them out, and the names of those files relative to dir.
func benchManifests(dir string, n int) (files []source.File, names []string) {
	for i := 0; i < n; i++ {
		var kind, doc string
		name := fmt.Sprintf("svc-%03d", i)
		switch i % 3 {
		case 0:
			kind, doc = "configmap", configMap(name)
		case 1:
			kind, doc = "service", fmt.Sprintf(benchService, name)
		default:
			kind, doc = "deployment", fmt.Sprintf(benchDeployment, name)
		}
		file := fmt.Sprintf("%s-%s.yaml", name, kind)
		names = append(names, file)
		files = append(files, source.File{Path: dir + "/" + file, Data: []byte(doc)})
	}
	return files, names
}

// benchKustomization adds a kustomization.yaml with commonLabels and namePrefix listing every
// manifest of benchManifests.
func benchKustomization(dir string, n int) []source.File {
	files, names := benchManifests(dir, n)
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamePrefix: prod-\n" +
		"commonLabels:\n  app.kubernetes.io/part-of: platform\n  env: prod\nresources:\n- " +
		strings.Join(names, "\n- ") + "\n"
	return append(files, source.File{Path: dir + "/kustomization.yaml", Data: []byte(k)})
}

func benchRender(b *testing.B, fs []source.File, dir string, n int, check func(b *testing.B, first *unstructured.Unstructured)) {
	b.Helper()
	objs, err := Render(fs, dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if len(objs) != n {
		b.Fatalf("rendered %d objects, want %d", len(objs), n)
	}
	check(b, objs[0])
	b.ReportAllocs()
	for b.Loop() {
		if objs, err = Render(fs, dir, Options{}); err != nil || len(objs) != n {
			b.Fatalf("rendered %d objects, want %d: %v", len(objs), n, err)
		}
	}
}

func BenchmarkRenderPlainDirectory(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			fs, _ := benchManifests("apps/web", n)
			benchRender(b, fs, "apps/web", n, func(b *testing.B, first *unstructured.Unstructured) {
				if first.GetName() != "svc-000" {
					b.Fatalf("first object is %s, want svc-000", first.GetName())
				}
			})
		})
	}
}

// discardStderr silences kustomize, which writes a deprecation warning for commonLabels straight
// to os.Stderr on every build. The write itself still happens and is measured.
func discardStderr(b *testing.B) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = null
	b.Cleanup(func() {
		os.Stderr = stderr
		null.Close()
	})
}

func BenchmarkRenderKustomize(b *testing.B) {
	discardStderr(b)
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			fs := benchKustomization("apps/web", n)
			benchRender(b, fs, "apps/web", n, func(b *testing.B, first *unstructured.Unstructured) {
				if !strings.HasPrefix(first.GetName(), "prod-") || first.GetLabels()["env"] != "prod" {
					b.Fatalf("namePrefix or commonLabels not applied: %s %v", first.GetName(), first.GetLabels())
				}
			})
		})
	}
}

// benchChart is a chart of n templates, each a Deployment from shared helpers and values.
func benchChart(dir string, n int) []source.File {
	files := []source.File{
		{Path: dir + "/Chart.yaml", Data: []byte("apiVersion: v2\nname: web\nversion: 1.0.0\n")},
		{Path: dir + "/values.yaml", Data: []byte("replicas: 2\nimage: {repository: registry.example.com/web, tag: \"1.0\"}\nresources: {requests: {cpu: 100m, memory: 64Mi}}\n")},
		{Path: dir + "/templates/_helpers.tpl", Data: []byte(`{{- define "web.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}`)},
	}
	for i := range n {
		files = append(files, source.File{Path: fmt.Sprintf("%s/templates/deploy-%03d.yaml", dir, i), Data: []byte(fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-%03d
  labels: {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}-%03d}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}-%03d}}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        resources: {{- toYaml .Values.resources | nindent 10 }}
`, i, i, i))})
	}
	return files
}

func BenchmarkRenderHelmChart(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("templates=%d", n), func(b *testing.B) {
			fs := benchChart("charts/web", n)
			opts := Options{ChartDefaults: &HelmOptions{ReleaseName: "web", Namespace: "default"}}
			objs, err := Render(fs, "charts/web", opts)
			if err != nil || len(objs) != n {
				b.Fatalf("rendered %d objects, want %d: %v", len(objs), n, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if objs, err = Render(fs, "charts/web", opts); err != nil || len(objs) != n {
					b.Fatalf("rendered %d objects, want %d: %v", len(objs), n, err)
				}
			}
		})
	}
}
