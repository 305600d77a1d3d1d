// Package install renders what a cluster needs to run Ferry, from the kustomize base and overlays
// of artifacts/ (embedded in the binary): the namespace, ServiceAccount, RBAC, Service, a serving
// certificate with the APIService's matching caBundle, and the server in one of two modes —
// etcd embedded (a StatefulSet of one on a PersistentVolumeClaim) or an etcd cluster of the
// user's (a Deployment of two or more with a PodDisruptionBudget). kubectl ferry install applies
// or prints the result.
package install

import (
	"encoding/base64"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/artifacts"
)

// Namespace is where Ferry runs.
const Namespace = "ferry-system"

// DefaultImageRepository is where released images of ferry-apiserver are published.
const DefaultImageRepository = "ghcr.io/ferry-gitops/ferry-apiserver"

// Names of the objects the installer adds to the manifests or edits in them.
const (
	ServerName       = "ferry-apiserver"
	ServingSecret    = "ferry-apiserver-tls"
	EtcdClientSecret = "ferry-etcd-client"
	APIServiceName   = "v1alpha1.gitops.ferry.dev"
	// etcdClientDir is where the external overlay mounts EtcdClientSecret.
	etcdClientDir = "/var/run/ferry/etcd"
)

// Etcd modes.
const (
	EtcdEmbedded = "embedded"
	EtcdExternal = "external"
)

// Options say what to install.
type Options struct {
	// Image is the server's image, such as ghcr.io/ferry-gitops/ferry-apiserver:v0.3.0.
	Image string
	// EtcdServers are the client URLs of the user's etcd cluster; empty installs etcd embedded.
	EtcdServers []string
	// EtcdCA, EtcdCert and EtcdKey are PEM files' contents for TLS to that etcd cluster: the CA
	// that signed its serving certificates, and a client certificate and key when it asks for
	// one. They go into the Secret ferry-etcd-client.
	EtcdCA, EtcdCert, EtcdKey []byte
	// Replicas of the server with an external etcd; default 2. Embedded etcd has one.
	Replicas int32
	// StorageSize is the PersistentVolumeClaim's size with embedded etcd; default 10Gi.
	StorageSize string
	// Serving is the server's certificate and the CA the APIService trusts.
	Serving ServingCert
	// ServerMakesCert leaves the certificate to the server (--serving-cert-secret): the manifests
	// then hold no private key and no caBundle, for install.yaml and for --export.
	ServerMakesCert bool
}

// Mode is the etcd mode the options ask for.
func (o Options) Mode() string {
	if len(o.EtcdServers) > 0 {
		return EtcdExternal
	}
	return EtcdEmbedded
}

// Validate says what is wrong with the options, naming the flag.
func (o Options) Validate() error {
	if o.Image == "" {
		return fmt.Errorf("--image: the server's image is required")
	}
	if err := ValidateEtcdServers(o.EtcdServers); err != nil {
		return err
	}
	if len(o.EtcdServers) == 0 && (len(o.EtcdCA) > 0 || len(o.EtcdCert) > 0 || len(o.EtcdKey) > 0) {
		return fmt.Errorf("--etcd-ca-file, --etcd-cert-file and --etcd-key-file go with --etcd-servers")
	}
	if (len(o.EtcdCert) > 0) != (len(o.EtcdKey) > 0) {
		return fmt.Errorf("--etcd-cert-file and --etcd-key-file go together")
	}
	hasCert := len(o.Serving.CA) > 0 && len(o.Serving.Cert) > 0 && len(o.Serving.Key) > 0
	if hasCert == o.ServerMakesCert {
		return fmt.Errorf("give a serving certificate or leave it to the server, not both or neither")
	}
	return nil
}

// ValidateEtcdServers refuses an etcd URL that is not https://, naming the flag. A plaintext
// etcd gives whoever reaches its port every Application and Cluster to read and rewrite, and
// ferry-apiserver refuses to start on one; the installer says so before anything is applied.
func ValidateEtcdServers(servers []string) error {
	for _, u := range servers {
		switch {
		case strings.HasPrefix(u, "https://"):
		case strings.HasPrefix(u, "http://"):
			return fmt.Errorf("--etcd-servers: %q is plaintext: give https:// URLs with --etcd-ca-file, --etcd-cert-file and --etcd-key-file (a client certificate your etcd trusts), or --etcd=embedded", u)
		default:
			return fmt.Errorf("--etcd-servers: %q is not an etcd client URL such as https://etcd-0.etcd:2379", u)
		}
	}
	return nil
}

// Render returns the objects to apply, in the order to apply them: namespaces and
// cluster-wide RBAC first, the APIService last.
func Render(o Options) ([]*unstructured.Unstructured, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	objs, err := build(o.Mode())
	if err != nil {
		return nil, err
	}
	if !o.ServerMakesCert {
		objs = append(objs, secret(ServingSecret, "kubernetes.io/tls", map[string][]byte{"tls.crt": o.Serving.Cert, "tls.key": o.Serving.Key, "ca.crt": o.Serving.CA}))
	}
	if etcdTLS := etcdClientData(o); len(etcdTLS) > 0 {
		objs = append(objs, secret(EtcdClientSecret, "Opaque", etcdTLS))
	}
	for _, obj := range objs {
		switch {
		case isAPIService(obj) && o.ServerMakesCert:
			// Set by the server; applying the manifests again leaves the server's value alone.
			unstructured.RemoveNestedField(obj.Object, "spec", "caBundle")
		case isAPIService(obj):
			if err := unstructured.SetNestedField(obj.Object, base64.StdEncoding.EncodeToString(o.Serving.CA), "spec", "caBundle"); err != nil {
				return nil, err
			}
		case isServer(obj):
			if err := configureServer(obj, o); err != nil {
				return nil, err
			}
		}
	}
	sortForApply(objs)
	return objs, nil
}

// WriteYAML writes objs as one YAML stream, each after a "---" line, as kubectl apply -f takes it.
func WriteYAML(w io.Writer, objs []*unstructured.Unstructured) error {
	for _, obj := range objs {
		data, err := yaml.Marshal(obj.Object)
		if err != nil {
			return fmt.Errorf("%s: %w", objectKey(obj), err)
		}
		if _, err := fmt.Fprintf(w, "---\n%s", data); err != nil {
			return err
		}
	}
	return nil
}

// AllObjects are the objects of either etcd mode, each once, in apply order: what uninstall
// deletes, in reverse. Only their kinds and names mean anything.
func AllObjects() ([]*unstructured.Unstructured, error) {
	standIn := ServingCert{CA: []byte("unused"), Cert: []byte("unused"), Key: []byte("unused")}
	embedded, err := Render(Options{Image: "unused", Serving: standIn})
	if err != nil {
		return nil, err
	}
	external, err := Render(Options{Image: "unused", Serving: standIn, EtcdServers: []string{"https://unused:2379"}, EtcdCA: []byte("unused")})
	if err != nil {
		return nil, err
	}
	objs := embedded
	seen := map[string]bool{}
	for _, obj := range embedded {
		seen[objectKey(obj)] = true
	}
	for _, obj := range external {
		if !seen[objectKey(obj)] {
			objs = append(objs, obj)
		}
	}
	sortForApply(objs)
	return objs, nil
}

// build runs kustomize over the embedded artifacts: the overlay of mode.
func build(mode string) ([]*unstructured.Unstructured, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(artifacts.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := artifacts.FS.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/artifacts", p), data)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the embedded manifests: %w", err)
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, path.Join("/artifacts", mode))
	if err != nil {
		return nil, fmt.Errorf("kustomize build artifacts/%s: %w", mode, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range res.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%s: %w", r.CurId(), err)
		}
		objs = append(objs, obj)
	}
	return objs, nil
}

func etcdClientData(o Options) map[string][]byte {
	data := map[string][]byte{}
	if len(o.EtcdCA) > 0 {
		data["ca.crt"] = o.EtcdCA
	}
	if len(o.EtcdCert) > 0 {
		data["tls.crt"], data["tls.key"] = o.EtcdCert, o.EtcdKey
	}
	return data
}

// isServer reports whether obj is the server's workload: the StatefulSet of embedded/ or the
// Deployment of external/.
func isServer(obj *unstructured.Unstructured) bool {
	return (obj.GetKind() == "StatefulSet" || obj.GetKind() == "Deployment") && obj.GetName() == ServerName
}

func isAPIService(obj *unstructured.Unstructured) bool {
	return obj.GetKind() == "APIService" && obj.GetName() == APIServiceName
}

// configureServer sets the server's image and, with an external etcd, its address, client
// certificate and replicas; with embedded etcd, the claim's size.
func configureServer(obj *unstructured.Unstructured, o Options) error {
	edit := serverEdit{image: o.Image, serverMakesCert: o.ServerMakesCert}
	if o.Mode() == EtcdExternal {
		edit.etcdArgs = []any{"--etcd-servers=" + strings.Join(o.EtcdServers, ",")}
		if len(o.EtcdCA) > 0 {
			edit.etcdArgs = append(edit.etcdArgs, "--etcd-cafile="+etcdClientDir+"/ca.crt")
		}
		if len(o.EtcdCert) > 0 {
			edit.etcdArgs = append(edit.etcdArgs, "--etcd-certfile="+etcdClientDir+"/tls.crt", "--etcd-keyfile="+etcdClientDir+"/tls.key")
		}
		replicas := o.Replicas
		if replicas == 0 {
			replicas = 2
		}
		edit.replicas = int64(replicas)
	} else if o.StorageSize != "" {
		edit.storage = o.StorageSize
	}
	return edit.apply(obj)
}

// serverEdit is what the installer's options (or, for the Helm chart, placeholders standing for
// them) change in the server's workload; nil fields leave the overlay's value.
type serverEdit struct {
	image any
	// etcdArgs replace the overlay's --etcd-servers flag.
	etcdArgs        []any
	replicas        any
	storage         any
	serverMakesCert bool
}

func (e serverEdit) apply(obj *unstructured.Unstructured) error {
	containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) == 0 {
		return fmt.Errorf("the %s %s has no container", obj.GetKind(), obj.GetName())
	}
	c := containers[0].(map[string]any)
	c["image"] = e.image
	if e.serverMakesCert {
		serverMakesCert(obj, c)
	}
	if e.etcdArgs != nil {
		c["args"] = append(withoutFlags(c["args"].([]any), "--etcd-servers"), e.etcdArgs...)
	}
	if e.replicas != nil {
		if err := unstructured.SetNestedField(obj.Object, e.replicas, "spec", "replicas"); err != nil {
			return err
		}
	}
	if e.storage != nil {
		claims, _, _ := unstructured.NestedSlice(obj.Object, "spec", "volumeClaimTemplates")
		for _, claim := range claims {
			if err := unstructured.SetNestedField(claim.(map[string]any), e.storage, "spec", "resources", "requests", "storage"); err != nil {
				return err
			}
		}
		if err := unstructured.SetNestedSlice(obj.Object, claims, "spec", "volumeClaimTemplates"); err != nil {
			return err
		}
	}
	return unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
}

// withoutFlags is args without the values of the named flags (given as --flag=value).
func withoutFlags(args []any, flags ...string) []any {
	var kept []any
	for _, a := range args {
		s, _ := a.(string)
		name, _, _ := strings.Cut(s, "=")
		drop := false
		for _, f := range flags {
			drop = drop || name == f
		}
		if !drop {
			kept = append(kept, a)
		}
	}
	return kept
}

// serverMakesCert has the server keep its certificate in the Secret instead of mounting it:
// --serving-cert-secret replaces the certificate files and the Secret's volume.
func serverMakesCert(workload *unstructured.Unstructured, c map[string]any) {
	c["args"] = append(withoutFlags(c["args"].([]any), "--tls-cert-file", "--tls-private-key-file"), "--serving-cert-secret="+Namespace+"/"+ServingSecret)
	var tlsVolume string
	volumes, _, _ := unstructured.NestedSlice(workload.Object, "spec", "template", "spec", "volumes")
	var kept []any
	for _, v := range volumes {
		if secret, _, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); secret == ServingSecret {
			tlsVolume, _, _ = unstructured.NestedString(v.(map[string]any), "name")
			continue
		}
		kept = append(kept, v)
	}
	_ = unstructured.SetNestedSlice(workload.Object, kept, "spec", "template", "spec", "volumes")
	var mounts []any
	for _, m := range c["volumeMounts"].([]any) {
		if name, _, _ := unstructured.NestedString(m.(map[string]any), "name"); name != tlsVolume {
			mounts = append(mounts, m)
		}
	}
	c["volumeMounts"] = mounts
}

func secret(name, typ string, data map[string][]byte) *unstructured.Unstructured {
	encoded := map[string]any{}
	for k, v := range data {
		encoded[k] = base64.StdEncoding.EncodeToString(v)
	}
	return secretOf(name, typ, encoded)
}

// secretOf is a Secret of Ferry's namespace holding data, already encoded (or, for the Helm
// chart, a placeholder).
func secretOf(name, typ string, data any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": name, "namespace": Namespace, "labels": map[string]any{"app.kubernetes.io/name": ServerName, "app.kubernetes.io/part-of": "ferry"}},
		"type":     typ,
		"data":     data,
	}}
}

// applyOrder ranks kinds: what others need first, the APIService (which routes requests to the
// server) last.
var applyOrder = map[string]int{
	"Namespace": 0, "ServiceAccount": 1, "ClusterRole": 2, "ClusterRoleBinding": 3, "Role": 4, "RoleBinding": 5,
	"Secret": 6, "Service": 7, "PodDisruptionBudget": 8, "StatefulSet": 9, "Deployment": 9, "APIService": 10,
}

func sortForApply(objs []*unstructured.Unstructured) {
	rank := func(o *unstructured.Unstructured) int {
		if r, ok := applyOrder[o.GetKind()]; ok {
			return r
		}
		return 9
	}
	// Stable: kustomize's order within a kind is kept.
	sort.SliceStable(objs, func(i, j int) bool { return rank(objs[i]) < rank(objs[j]) })
}
