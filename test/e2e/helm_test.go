package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/strvals"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// webChart is a chart as a team writes it: helpers, a Deployment, a Service and a ConfigMap
// from values, and a value file per environment.
var webChart = map[string]string{
	"Chart.yaml":       "apiVersion: v2\nname: web\nversion: 0.3.0\nappVersion: \"1.4\"\n",
	"values.yaml":      "replicas: 1\nimage: {repository: registry.example.com/web, tag: \"1.4\"}\nport: 8080\nconfig: {greeting: hello, featureFlags: [search, cart]}\n",
	"values-prod.yaml": "replicas: 3\nconfig: {greeting: welcome}\n",
	"templates/_helpers.tpl": `{{- define "web.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}
{{- define "web.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels: {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app.kubernetes.io/instance: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app.kubernetes.io/instance: {{ .Release.Name }}}
    spec:
      containers:
      - name: web
        image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
        ports: [{containerPort: {{ .Values.port }}}]
        envFrom: [{configMapRef: {name: {{ include "web.fullname" . }}-config}}]
`,
	"templates/service.yaml": `apiVersion: v1
kind: Service
metadata:
  name: {{ include "web.fullname" . }}
  labels: {{- include "web.labels" . | nindent 4 }}
spec:
  selector: {app.kubernetes.io/instance: {{ .Release.Name }}}
  ports: [{port: 80, targetPort: {{ .Values.port }}}]
`,
	"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "web.fullname" . }}-config
data:
  GREETING: {{ .Values.config.greeting | quote }}
  FEATURES: {{ join "," .Values.config.featureFlags | quote }}
  BUILD: {{ .Values.build | default "dev" | quote }}
  KUBE: {{ .Capabilities.KubeVersion.Version | quote }}
`,
	"templates/NOTES.txt": "Open {{ include \"web.fullname\" . }}\n",
}

// helmTemplate renders the chart with the Helm SDK exactly as `helm template` does, for the
// expectation: the objects it prints.
func helmTemplate(t *testing.T, files map[string]string, release, namespace, kubeVersion string, valueFiles []string, set []string) []*unstructured.Unstructured {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chrt, err := loader.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{}
	for _, vf := range valueFiles {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(files[vf]), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range m { // one level is enough for this chart's files
			if vm, ok := v.(map[string]any); ok {
				if base, ok := vals[k].(map[string]any); ok {
					for kk, vv := range vm {
						base[kk] = vv
					}
					continue
				}
			}
			vals[k] = v
		}
	}
	for _, s := range set {
		if err := strvals.ParseInto(s, vals); err != nil {
			t.Fatal(err)
		}
	}
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy, install.ReleaseName, install.Namespace, install.Replace = action.DryRunClient, release, namespace, true
	if install.KubeVersion, err = common.ParseKubeVersion(kubeVersion); err != nil {
		t.Fatal(err)
	}
	rel, err := install.Run(chrt, vals)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rel.(*releasev1.Release).Manifest), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			break
		}
		if len(m) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs
}

// assertLiveAsRendered checks that each object helm template rendered is live in namespace ns,
// with every field it rendered (compared field by field; the cluster's defaults may add more).
func assertLiveAsRendered(t *testing.T, s *Stack, ns string, want []*unstructured.Unstructured) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(s.restConfig(Admin))
	if err != nil {
		t.Fatal(err)
	}
	mapper := newMapper(t, s)
	for _, w := range want {
		w.SetNamespace(ns)
		live, err := liveObject(t, dyn, mapper, w)
		if err != nil {
			t.Errorf("%s: %v", objectKey(w), err)
			continue
		}
		withoutTracking(live)
		if at, ok := contains(live.Object, w.Object, objectKey(w)); !ok {
			t.Errorf("%s differs from helm template at %s", objectKey(w), at)
		}
	}
}

// TestAHelmChartInGitDeploysWhatHelmTemplateRenders: a chart in Git with a value file and --set
// parameters deploys exactly the objects `helm template` renders for the same chart and values
// (compared object by object, field by field); /manifests shows them, and a new value reaches
// the cluster.
func TestAHelmChartInGitDeploysWhatHelmTemplateRenders(t *testing.T) {
	s := requireStack(t)
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("charts")
	files := map[string]string{}
	for name, content := range webChart {
		files["charts/web/"+name] = content
	}
	repo.Commit("main", files, "the web chart")
	ns := newNamespace(t, "helm")
	helm := map[string]any{
		"valueFiles": []any{"values-prod.yaml"},
		"parameters": []any{map[string]any{"name": "image.tag", "value": "1.5"}, map[string]any{"name": "build", "value": "20261201", "forceString": true}},
	}
	kubectlStdin(t, Admin, gitApp(ns, "web", repo, "charts/web", ns, map[string]any{"source.helm": helm}), "apply", "-f", "-")
	waitApp(t, ns, "web", "Synced", synced)

	// Charts see the cluster's version, as helm template --kube-version would give it: the
	// live ConfigMap's KUBE is compared with it below.
	disco, err := discovery.NewDiscoveryClientForConfig(s.restConfig(Admin))
	if err != nil {
		t.Fatal(err)
	}
	version, err := disco.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	want := helmTemplate(t, webChart, "web", ns, version.GitVersion, []string{"values-prod.yaml"}, []string{"image.tag=1.5"})
	if len(want) != 3 {
		t.Fatalf("helm template rendered %d objects, want 3", len(want))
	}
	for _, w := range want {
		if w.GetKind() == "ConfigMap" {
			// --set-string build=20261201: the same value as a string.
			if err := unstructured.SetNestedField(w.Object, "20261201", "data", "BUILD"); err != nil {
				t.Fatal(err)
			}
		}
	}
	assertLiveAsRendered(t, s, ns, want)
	manifests := kubectl(t, "get", "--raw", "/apis/gitops.ferry.dev/v1alpha1/namespaces/"+ns+"/applications/web/manifests")
	for _, name := range []string{`"name":"web-web"`, `"name":"web-web-config"`, `"replicas":3`} {
		if !strings.Contains(manifests, name) {
			t.Errorf("/manifests lacks %s", name)
		}
	}
	if strings.Contains(manifests, "NOTES") || strings.Contains(manifests, "Open web-web") {
		t.Error("/manifests shows NOTES.txt")
	}

	// A new value reaches the cluster.
	kubectl(t, "patch", "application", "web", "-n", ns, "--type=merge", "-p", `{"spec":{"source":{"helm":{"values":{"replicas":5}}}}}`)
	eventually(t, syncTimeout, "replicas 5 live", func() (bool, string) {
		r := s.Run(Admin, "", "get", "deployment", "web-web", "-n", ns, "-o", "jsonpath={.spec.replicas}")
		return r.Stdout == "5", fmt.Sprint(r.Stdout)
	})
	if app := getApp(t, ns, "web"); app.Status.Sync.Status != gitopsv1alpha1.SyncStatusSynced {
		t.Logf("after the values change: %s", describeApp(app))
	}
}
