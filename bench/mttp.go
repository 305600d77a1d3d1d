package main

import (
	"fmt"
	"maps"
	"strings"
)

// The peer workload is the shape of Flux's "mean time to production" benchmark
// (github.com/fluxcd/flux-benchmark): each app is a Deployment scaled to 0, a ServiceAccount, a
// Service and an Ingress, all in one monorepo. It comes in three layouts: plain YAML, one
// directory per app; kustomize overlays of one shared base; and one Helm chart holding the four
// objects, served by a Helm repository and installed once per app.
const (
	mttpPlain     = "plain"
	mttpKustomize = "kustomize"
	mttpHelm      = "helm"
)

// The helm layout's chart, and the range every tool installs it by: publishing a new version is
// the helm layout's commit.
const (
	mttpChartName  = "mttp"
	mttpChartRange = ">=0.1.0 <1.0.0"
)

// mttpPath is app i's directory in the monorepo.
func mttpPath(i int) string { return fmt.Sprintf("apps/app-%05d", i) }

// mttpName is the name of app i's four objects.
func mttpName(i int) string { return fmt.Sprintf("app-%05d", i) }

// mttpRepo is every file of the monorepo for n apps of layout at version (v1, then v2 for the
// commit that touches every app). Objects carry no namespace: each tool deploys app i into its
// own destination namespace.
func mttpRepo(layout string, n int, version string) map[string]string {
	files := map[string]string{}
	if layout == mttpKustomize {
		maps.Copy(files, mttpBase())
	}
	for i := range n {
		if layout == mttpKustomize {
			files[mttpPath(i)+"/kustomization.yaml"] = mttpOverlay(i, version)
			continue
		}
		for name, body := range mttpObjects(mttpName(i), version) {
			files[mttpPath(i)+"/"+name] = body
		}
	}
	return files
}

// mttpObjects are the four objects of one app, named name, at version (the Deployment's
// VERSION variable and the Ingress's annotation).
func mttpObjects(name, version string) map[string]string {
	return map[string]string{
		"serviceaccount.yaml": fmt.Sprintf(`apiVersion: v1
kind: ServiceAccount
metadata:
  name: %s
  labels: {app.kubernetes.io/name: %[1]s}
`, name),
		"service.yaml": fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  labels: {app.kubernetes.io/name: %[1]s}
spec:
  type: ClusterIP
  selector: {app.kubernetes.io/name: %[1]s}
  ports:
  - {name: http, port: 80, targetPort: http, protocol: TCP}
`, name),
		"deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %s
  labels: {app.kubernetes.io/name: %[1]s}
spec:
  replicas: 0
  selector:
    matchLabels: {app.kubernetes.io/name: %[1]s}
  template:
    metadata:
      labels: {app.kubernetes.io/name: %[1]s}
    spec:
      serviceAccountName: %[1]s
      containers:
      - name: app
        image: ghcr.io/stefanprodan/podinfo:6.7.1
        env: [{name: VERSION, value: %[2]q}]
        ports: [{name: http, containerPort: 9898, protocol: TCP}]
        resources:
          requests: {cpu: 10m, memory: 16Mi}
`, name, version),
		"ingress.yaml": fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: %s
  labels: {app.kubernetes.io/name: %[1]s}
  annotations: {bench.ferry.dev/version: %[2]q}
spec:
  rules:
  - host: %[1]s.bench.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: %[1]s
            port: {name: http}
`, name, version),
	}
}

// mttpBase is the shared base of the kustomize layout: the four objects named "app" at v1.
func mttpBase() map[string]string {
	files := map[string]string{"bases/app/kustomization.yaml": "resources: [serviceaccount.yaml, service.yaml, deployment.yaml, ingress.yaml]\n"}
	for name, body := range mttpObjects("app", "v1") {
		files["bases/app/"+name] = body
	}
	return files
}

// mttpOverlay is app i's kustomization: the base, renamed for the app (namePrefix renames the
// Deployment's ServiceAccount and the Ingress's Service with it), labelled for it, and patched
// to version.
func mttpOverlay(i int, version string) string {
	return fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../bases/app]
namePrefix: %[1]s-
labels:
- pairs: {bench.ferry.dev/app: %[1]s}
  includeSelectors: true
patches:
- target: {kind: Deployment, name: app}
  patch: |-
    - op: replace
      path: /spec/template/spec/containers/0/env/0/value
      value: %[2]q
- target: {kind: Ingress, name: app}
  patch: |-
    - op: replace
      path: /metadata/annotations/bench.ferry.dev~1version
      value: %[2]q
    - op: replace
      path: /spec/rules/0/host
      value: %[1]s.bench.example.com
`, mttpName(i), version)
}

// mttpChartVersion is the chart's version holding a workload version: v1 is 0.1.0, v2 0.2.0.
func mttpChartVersion(version string) string {
	return "0." + strings.TrimPrefix(version, "v") + ".0"
}

// mttpChart is the chart at a workload version: the four objects, named after the release, with
// the version in its values.
func mttpChart(version string) map[string]string {
	files := map[string]string{
		"Chart.yaml":  fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\n", mttpChartName, mttpChartVersion(version)),
		"values.yaml": fmt.Sprintf("version: %q\n", version),
	}
	for name, body := range mttpObjects("{{ .Release.Name }}", "{{ .Values.version }}") {
		files["templates/"+name] = body
	}
	return files
}
