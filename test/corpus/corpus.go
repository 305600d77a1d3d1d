// Package corpus is a set of Git repositories shaped like real users' GitOps repositories, for
// tests that render, apply and diff them. Each repository has two commits: repos/<repo> is the
// first, changes/<repo> holds the files the second commit writes and changes/<repo>.removed the
// paths it deletes. The second commit changes a number, removes an object and adds an object in
// the rendered output of every App.
//
// Shapes covered:
//
// webapp (kustomize; Apps overlays/dev, overlays/staging, overlays/production):
//   - base: Deployment with replicas, named container ports, canonical resource quantities,
//     liveness/readiness probes, env and envFrom from generated ConfigMap/Secret, configMap
//     volumes with items; Service with a named targetPort; HorizontalPodAutoscaler
//     autoscaling/v2 on CPU utilization; ServiceAccount; PodDisruptionBudget policy/v1.
//   - configMapGenerator from files (app.properties, nginx.conf) and from literals;
//     secretGenerator from literals and from a file with a key rename (KEY=path).
//   - labels: with pairs and includeSelectors (base), with includeTemplates (staging);
//     the deprecated commonLabels (production).
//   - components/monitoring: a kind: Component adding a ConfigMap and patching the Deployment
//     (sidecar container with a metrics port, pod annotations), used by staging and production.
//   - dev: namePrefix, no namespace, replicas: field, images: newTag, configMapGenerator
//     behavior: merge, the deprecated patchesStrategicMerge.
//   - staging: namePrefix, no namespace, component, labels, JSON 6902 patches: from a file
//     (replace /spec/replicas) and inline (replace a Service port).
//   - production: own Namespace object and namespace:, namePrefix, commonAnnotations,
//     images: newName+newTag and digest, replicas:, Ingress networking.k8s.io/v1 (pathType
//     Prefix, backend port number), strategic merge patch on the HPA, component.
//   - second commit: number changes in base and overlays, an edited configMapGenerator input
//     file (the generated ConfigMap gets a new hashed name), a resource removed from base
//     (PodDisruptionBudget) and one added (NetworkPolicy).
//
// stateful (kustomize; Apps base, overlays/production):
//   - StatefulSet with volumeClaimTemplates, headless Service (clusterIP: None) next to a
//     ClusterIP Service in one multi-document file, two CronJobs batch/v1 (timeZone, history
//     limits, Job template with backoffLimit), standalone PersistentVolumeClaim,
//     configMapGenerator literals that look like numbers, secretGenerator literals.
//   - production: namespace: with its own Namespace object, replicas:, a strategic merge patch
//     on volumeClaimTemplates storage (the list has no merge key, so the entry is repeated
//     whole), an inline JSON 6902 patch on the CronJob schedule.
//
// plain (directory of manifests; App manifests with recurse):
//   - multi-document YAML with a leading comment-only document and a comment-only document
//     between separators; a v1 List of ConfigMaps and a Service; a JSON Deployment; a Service
//     with several ports (TCP and UDP, numeric and named targetPorts); a .yml file; nested/
//     subdirectories deployed only with recurse; a README.md that is not a manifest.
//   - second commit: a document removed from and one appended to the multi-document file, a
//     file deleted, a file added under nested/.
//
// crds (kustomize, kustomization.yml; App app):
//   - CustomResourceDefinition apiextensions.k8s.io/v1 (group corpus.ferry.dev, kind Widget,
//     namespaced, status subresource, structural schema with integer, string enum with default,
//     boolean, arrays of strings and of objects, nested objects, printer columns) applied with
//     its custom resources in one kustomization, plus a ConfigMap.
//   - second commit: a Widget's numbers change, one Widget removed, one added.
//
// Every object is valid for a real kube-apiserver: no status, no generateName, no stringData,
// canonical quantities, and the second commit leaves immutable fields (selectors,
// volumeClaimTemplates, PVC specs) alone. Cluster-scoped names start with corpus- or are under
// corpus.ferry.dev.
package corpus

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed all:repos all:changes
var files embed.FS

// Repo is one Git repository of the corpus.
type Repo struct {
	Name string // directory under repos/
	Apps []App  // the Applications that deploy paths of it
}

// App is one path of a Repo that an Application deploys.
type App struct {
	Path string // spec.source.path
	// Kustomize is true when Path holds a kustomization (compare with `kubectl kustomize Path`);
	// false for a plain directory of manifests.
	Kustomize bool
	// Recurse is spec.source.directory.recurse for a plain directory.
	Recurse bool
	// OwnNamespace is the namespace the path's objects land in by themselves (kustomize
	// `namespace:` and a Namespace object in the path), "" when they need the Application's
	// spec.destination.namespace.
	OwnNamespace string
	// Change says what the second commit does to this path: which number changes, which object
	// goes away, which object is added (for test messages).
	Change string
}

// Repos is the corpus.
func Repos() []Repo {
	return []Repo{
		{Name: "webapp", Apps: []App{
			{Path: "overlays/dev", Kustomize: true,
				Change: "Deployment dev-webapp replicas 1->2, HPA dev-webapp averageUtilization 70->60; " +
					"PodDisruptionBudget dev-webapp removed, NetworkPolicy dev-webapp added; " +
					"ConfigMap dev-webapp-config-* replaced by a new hash (cache.max-entries 500->1000)"},
			{Path: "overlays/staging", Kustomize: true,
				Change: "Deployment staging-webapp replicas 2->3 (JSON 6902 patch), HPA staging-webapp averageUtilization 70->60; " +
					"PodDisruptionBudget staging-webapp removed, NetworkPolicy staging-webapp added; " +
					"ConfigMap staging-webapp-config-* replaced by a new hash (cache.max-entries 500->1000)"},
			{Path: "overlays/production", Kustomize: true, OwnNamespace: "corpus-webapp-production",
				Change: "Deployment prod-webapp replicas 4->6, HPA prod-webapp minReplicas 4->6, maxReplicas 12->20, averageUtilization 70->60; " +
					"PodDisruptionBudget prod-webapp removed, NetworkPolicy prod-webapp added; " +
					"ConfigMap prod-webapp-config-* replaced by a new hash (cache.max-entries 500->1000)"},
		}},
		{Name: "stateful", Apps: []App{
			{Path: "base", Kustomize: true,
				Change: "CronJob postgres-backup successfulJobsHistoryLimit 3->5, backoffLimit 2->4; " +
					"CronJob postgres-vacuum removed, ServiceAccount postgres-backup added"},
			{Path: "overlays/production", Kustomize: true, OwnNamespace: "corpus-stateful",
				Change: "StatefulSet postgres replicas 2->3, CronJob postgres-backup successfulJobsHistoryLimit 3->5, backoffLimit 2->4; " +
					"CronJob postgres-vacuum removed, ServiceAccount postgres-backup added"},
		}},
		{Name: "plain", Apps: []App{
			{Path: "manifests", Recurse: true,
				Change: "Deployment frontend replicas 2->3, Deployment api memory limit 512Mi->768Mi; " +
					"ConfigMap frontend-banner (a document of frontend.yaml) and CronJob catalog-reindex (file nested/jobs/reindex.yaml) removed; " +
					"PodDisruptionBudgets frontend (appended to frontend.yaml) and gateway (new file nested/gateway/pdb.yaml) added"},
		}},
		{Name: "crds", Apps: []App{
			{Path: "app", Kustomize: true,
				Change: "Widget alpha size 3->5, limits.maxItems 250->500; Widget beta removed, Widget gamma added"},
		}},
	}
}

// Files returns the repository's first commit: path -> content.
func (r Repo) Files() map[string]string {
	return readTree("repos/" + r.Name)
}

// Changed returns the second commit relative to the first: path -> new content, "" for a
// removed file (the form gittest.Repo.Commit takes).
func (r Repo) Changed() map[string]string {
	changed := readTree("changes/" + r.Name)
	// The .removed list is optional: a second commit may only add and rewrite files.
	data, err := files.ReadFile("changes/" + r.Name + ".removed")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		panic(fmt.Sprintf("corpus: reading the files removed from %s: %v", r.Name, err))
	}
	for _, line := range strings.Split(string(data), "\n") {
		if p := strings.TrimSpace(line); p != "" {
			changed[p] = ""
		}
	}
	return changed
}

// After returns the whole tree after the second commit (Files with Changed applied).
func (r Repo) After() map[string]string {
	tree := r.Files()
	for p, content := range r.Changed() {
		if content == "" {
			delete(tree, p)
		} else {
			tree[p] = content
		}
	}
	return tree
}

// readTree returns the files under dir keyed by their path relative to dir. It panics on
// errors: the corpus is compiled in, so a failure is a bug in the corpus, not in a test.
func readTree(dir string) map[string]string {
	tree := map[string]string{}
	err := fs.WalkDir(files, dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		// An empty file would read as a deletion in the Commit form; none is allowed.
		if len(data) == 0 {
			return fmt.Errorf("%s is empty", p)
		}
		tree[strings.TrimPrefix(p, dir+"/")] = string(data)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("corpus: reading %s: %v", dir, err))
	}
	return tree
}
