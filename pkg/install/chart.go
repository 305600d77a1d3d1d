package install

import (
	"bytes"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The Helm chart charts/ferry offers what kubectl ferry install does, for teams that install
// everything with Helm. Its templates are generated from the same kustomize base and overlays
// the installer renders (artifacts/), so the two cannot drift apart: ChartTemplates writes each
// object as YAML, with placeholders where the installer sets a value from its options, and
// swaps each placeholder for the template expression that reads the same option from the
// chart's values. The helpers those expressions call (charts/ferry/templates/_helpers.tpl),
// values.yaml and values.schema.json are written by hand; a test renders the chart with the
// Helm SDK and compares it with Render, object by object.

// Placeholders: strings no manifest holds, each replaced by a template expression.
const (
	chartImage       = "FERRY_CHART_IMAGE"
	chartReplicas    = "FERRY_CHART_REPLICAS"
	chartStorage     = "FERRY_CHART_STORAGE_SIZE"
	chartEtcdArgs    = "FERRY_CHART_ETCD_ARGS"
	chartEtcdData    = "FERRY_CHART_ETCD_CLIENT_DATA"
	chartTLSCA       = "FERRY_CHART_TLS_CA"
	chartTLSCert     = "FERRY_CHART_TLS_CERT"
	chartTLSKey      = "FERRY_CHART_TLS_KEY"
	chartHeaderBlurb = `{{/* Generated from artifacts/ by hack/update-codegen.sh (go run ./hack/chart); do not edit. */}}`
)

// inlineExpressions replace a placeholder where it stands, as a scalar.
var inlineExpressions = map[string]string{
	chartImage:    `{{ include "ferry.image" . | quote }}`,
	chartReplicas: `{{ .Values.replicas }}`,
	chartStorage:  `{{ .Values.storage.size | quote }}`,
	chartTLSCA:    `{{ index $tls "ca.crt" }}`,
	chartTLSCert:  `{{ index $tls "tls.crt" }}`,
	chartTLSKey:   `{{ index $tls "tls.key" }}`,
}

// blockHelpers replace a placeholder standing for a list's items or a map's entries with the
// helper that writes them, indented where the placeholder was.
var blockHelpers = map[string]string{
	chartEtcdArgs: "ferry.etcdArgs",
	chartEtcdData: "ferry.etcdClientData",
}

// ChartTemplates returns the chart's generated templates by file name (under templates/).
func ChartTemplates() (map[string][]byte, error) {
	embedded, err := build(EtcdEmbedded)
	if err != nil {
		return nil, err
	}
	external, err := build(EtcdExternal)
	if err != nil {
		return nil, err
	}
	var shared, apiService, statefulSet []*unstructured.Unstructured
	for _, o := range embedded {
		switch {
		case isAPIService(o):
			apiService = append(apiService, o)
		case isServer(o):
			statefulSet = append(statefulSet, o)
		default:
			shared = append(shared, o)
		}
	}
	// What external/ adds to base/: the Deployment and its PodDisruptionBudget.
	inEmbedded := map[string]bool{}
	for _, o := range embedded {
		inEmbedded[objectKey(o)] = true
	}
	var deployment []*unstructured.Unstructured
	for _, o := range external {
		if !inEmbedded[objectKey(o)] {
			deployment = append(deployment, o)
		}
	}
	if len(apiService) != 1 || len(statefulSet) != 1 || len(deployment) == 0 {
		return nil, fmt.Errorf("artifacts/ no longer has one APIService and a server in each overlay")
	}
	for _, o := range append(statefulSet, deployment...) {
		if isServer(o) {
			if err := placeholdServer(o); err != nil {
				return nil, err
			}
		}
	}
	if err := unstructured.SetNestedField(apiService[0].Object, chartTLSCA, "spec", "caBundle"); err != nil {
		return nil, err
	}
	servingSecret := secretOf(ServingSecret, "kubernetes.io/tls", map[string]any{"ca.crt": chartTLSCA, "tls.crt": chartTLSCert, "tls.key": chartTLSKey})
	etcdSecret := secretOf(EtcdClientSecret, "Opaque", chartEtcdData)

	files := map[string][]byte{}
	add := func(name string, parts ...any) error {
		var b bytes.Buffer
		b.WriteString(chartHeaderBlurb + "\n")
		for _, p := range parts {
			switch p := p.(type) {
			case string:
				b.WriteString(p + "\n")
			case []*unstructured.Unstructured:
				for i, o := range p {
					if i > 0 {
						b.WriteString("---\n")
					}
					y, err := yaml.Marshal(o.Object)
					if err != nil {
						return fmt.Errorf("%s: %w", objectKey(o), err)
					}
					b.Write(y)
				}
			}
		}
		text, err := substitute(b.String())
		if err != nil {
			return fmt.Errorf("templates/%s: %w", name, err)
		}
		files[name] = []byte(text)
		return nil
	}
	for _, f := range []struct {
		name  string
		parts []any
	}{
		{"base.yaml", []any{shared}},
		{"server.yaml", []any{`{{- include "ferry.validate" . }}`, `{{- if not .Values.etcd.servers }}`, statefulSet, `{{- else }}`, deployment, `{{- end }}`}},
		// The Secret and the APIService share one generated certificate, so they share a file.
		{"serving-cert.yaml", []any{`{{- $tls := include "ferry.servingCert" . | fromYaml }}`, []*unstructured.Unstructured{servingSecret}, "---", apiService}},
		{"etcd-client.yaml", []any{`{{- if include "ferry.etcdClientData" . }}`, []*unstructured.Unstructured{etcdSecret}, `{{- end }}`}},
	} {
		if err := add(f.name, f.parts...); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// placeholdServer marks where the server's options go: the image; with an external etcd the
// replicas and the etcd flags (which replace the overlay's example address); with embedded etcd
// the claim's size.
func placeholdServer(obj *unstructured.Unstructured) error {
	edit := serverEdit{image: chartImage}
	if obj.GetKind() == "Deployment" {
		edit.etcdArgs, edit.replicas = []any{chartEtcdArgs}, chartReplicas
	} else {
		edit.storage = chartStorage
	}
	return edit.apply(obj)
}

// substitute swaps every placeholder of text for its template expression, and fails if one is
// left where it cannot be swapped.
func substitute(text string) (string, error) {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		for token, helper := range blockHelpers {
			switch {
			case trimmed == "- "+token: // the items of a list
				lines[i] = fmt.Sprintf("%s{{- include %q . | nindent %d }}", line[:indent], helper, indent)
			case strings.HasSuffix(trimmed, ": "+token): // the entries of a map
				key := strings.TrimSuffix(trimmed, " "+token)
				lines[i] = fmt.Sprintf("%s%s{{- include %q . | nindent %d }}", line[:indent], key, helper, indent+2)
			}
		}
		for token, expr := range inlineExpressions {
			lines[i] = strings.ReplaceAll(lines[i], token, expr)
		}
		if strings.Contains(lines[i], "FERRY_CHART_") {
			return "", fmt.Errorf("line %d: a placeholder that cannot be swapped: %s", i+1, line)
		}
	}
	return strings.Join(lines, "\n"), nil
}

func objectKey(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}
