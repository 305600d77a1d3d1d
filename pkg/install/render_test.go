package install

import (
	"context"
	"encoding/base64"
	"io"
	"path"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferry-gitops/ferry/pkg/cmd/server"
)

func renderMode(t *testing.T, external bool) []*unstructured.Unstructured {
	t.Helper()
	serving, err := NewServingCert()
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Image: "registry.example.com/ferry-apiserver:v0.3.0", Serving: serving, StorageSize: "20Gi"}
	if external {
		o.EtcdServers = []string{"https://etcd-0.etcd:2379", "https://etcd-1.etcd:2379"}
		o.EtcdCA, o.EtcdCert, o.EtcdKey = []byte("ca"), []byte("cert"), []byte("key")
		o.Replicas = 3
	}
	objs, err := Render(o)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// container returns the server's container of objs' workload.
func container(t *testing.T, objs []*unstructured.Unstructured) (*unstructured.Unstructured, map[string]any) {
	t.Helper()
	for _, kind := range []string{"StatefulSet", "Deployment"} {
		if w := find(objs, kind, ServerName); w != nil {
			cs, _, _ := unstructured.NestedSlice(w.Object, "spec", "template", "spec", "containers")
			return w, cs[0].(map[string]any)
		}
	}
	t.Fatal("no workload")
	return nil, nil
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestBothModesRenderWhatTheServerNeeds: embedded etcd is a StatefulSet of one with a claim of
// the asked size and no PodDisruptionBudget to block drains; an external etcd is a Deployment of
// the asked replicas with the etcd flags and their Secret; both carry the image, the serving
// Secret and the APIService's caBundle of the CA that signed it; the APIService comes last.
func TestBothModesRenderWhatTheServerNeeds(t *testing.T) {
	for _, external := range []bool{false, true} {
		objs := renderMode(t, external)
		w, c := container(t, objs)
		if c["image"] != "registry.example.com/ferry-apiserver:v0.3.0" {
			t.Errorf("image %v", c["image"])
		}
		args := strings.Join(strs(c["args"]), " ")
		secret := find(objs, "Secret", ServingSecret)
		if secret == nil {
			t.Fatal("no serving Secret")
		}
		ca, _, _ := unstructured.NestedString(secret.Object, "data", "ca.crt")
		bundle, _, _ := unstructured.NestedString(find(objs, "APIService", APIServiceName).Object, "spec", "caBundle")
		if bundle == "" || bundle != ca {
			t.Errorf("the APIService's caBundle is not the CA of the serving Secret")
		}
		if last := objs[len(objs)-1]; last.GetKind() != "APIService" {
			t.Errorf("the last object is %s, want the APIService", last.GetKind())
		}
		if external {
			if w.GetKind() != "Deployment" {
				t.Fatalf("external etcd: a %s", w.GetKind())
			}
			if r, _, _ := unstructured.NestedInt64(w.Object, "spec", "replicas"); r != 3 {
				t.Errorf("replicas %d, want 3", r)
			}
			for _, want := range []string{"--etcd-servers=https://etcd-0.etcd:2379,https://etcd-1.etcd:2379", "--etcd-cafile=/var/run/ferry/etcd/ca.crt", "--etcd-certfile=/var/run/ferry/etcd/tls.crt", "--etcd-keyfile=/var/run/ferry/etcd/tls.key"} {
				if !strings.Contains(args, want) {
					t.Errorf("args %q lack %s", args, want)
				}
			}
			if strings.Count(args, "--etcd-servers=") != 1 {
				t.Errorf("args %q: --etcd-servers more than once", args)
			}
			etcd := find(objs, "Secret", EtcdClientSecret)
			if key, _, _ := unstructured.NestedString(etcd.Object, "data", "tls.key"); key != base64.StdEncoding.EncodeToString([]byte("key")) {
				t.Errorf("the etcd client Secret's tls.key: %q", key)
			}
			if find(objs, "PodDisruptionBudget", ServerName) == nil {
				t.Error("no PodDisruptionBudget for the replicas")
			}
		} else {
			if w.GetKind() != "StatefulSet" {
				t.Fatalf("embedded etcd: a %s", w.GetKind())
			}
			claims, _, _ := unstructured.NestedSlice(w.Object, "spec", "volumeClaimTemplates")
			size, _, _ := unstructured.NestedString(claims[0].(map[string]any), "spec", "resources", "requests", "storage")
			if size != "20Gi" {
				t.Errorf("claim size %q, want 20Gi", size)
			}
			if strings.Contains(args, "--etcd-servers") {
				t.Errorf("embedded etcd with args %q", args)
			}
			if find(objs, "PodDisruptionBudget", ServerName) != nil {
				t.Error("a PodDisruptionBudget over one replica would block every drain")
			}
		}
	}
}

// TestTheServerWritesOnlyIntoItsVolumes: the container's args parse with ferry-apiserver's own
// flags (a renamed flag fails here, not in a user's cluster), the root filesystem is read-only,
// and every directory the server writes — --data-dir, --git-cache-dir, TMPDIR — is a writable
// volume mount.
func TestTheServerWritesOnlyIntoItsVolumes(t *testing.T) {
	for _, external := range []bool{false, true} {
		objs := renderMode(t, external)
		w, c := container(t, objs)
		opts := server.NewOptions(io.Discard, io.Discard)
		cmd := server.NewCommand(context.Background(), opts)
		if err := cmd.ParseFlags(strs(c["args"])); err != nil {
			t.Fatalf("%s: ferry-apiserver refuses its args: %v", w.GetKind(), err)
		}
		if ro, _, _ := unstructured.NestedBool(c, "securityContext", "readOnlyRootFilesystem"); !ro {
			t.Errorf("%s: the root filesystem is writable", w.GetKind())
		}
		writable := map[string]bool{}
		mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
		for _, m := range mounts {
			mm := m.(map[string]any)
			if ro, _ := mm["readOnly"].(bool); !ro {
				writable[mm["mountPath"].(string)] = true
			}
		}
		under := func(p string) bool {
			for dir := p; dir != "/" && dir != "."; dir = path.Dir(dir) {
				if writable[dir] {
					return true
				}
			}
			return false
		}
		flags := cmd.Flags()
		paths := map[string]string{}
		for _, name := range []string{"git-cache-dir", "data-dir"} {
			paths["--"+name] = flags.Lookup(name).Value.String()
		}
		env, _, _ := unstructured.NestedSlice(c, "env")
		for _, e := range env {
			if em := e.(map[string]any); em["name"] == "TMPDIR" {
				paths["TMPDIR"] = em["value"].(string)
			}
		}
		if paths["TMPDIR"] == "" {
			t.Errorf("%s: no TMPDIR: temporary files would go to the read-only /tmp of the image", w.GetKind())
		}
		for what, p := range paths {
			if what == "--data-dir" && external {
				continue // unused with --etcd-servers
			}
			if !path.IsAbs(p) || !under(p) {
				t.Errorf("%s: %s=%s is not inside a writable volume (mounts %v)", w.GetKind(), what, p, writable)
			}
		}
	}
}

// TestBadOptionsNameTheFlag: the installer refuses what it cannot install, naming the flag.
func TestBadOptionsNameTheFlag(t *testing.T) {
	serving, err := NewServingCert()
	if err != nil {
		t.Fatal(err)
	}
	for want, o := range map[string]Options{
		"--image":         {Serving: serving},
		"--etcd-servers":  {Image: "x", Serving: serving, EtcdServers: []string{"etcd-0:2379"}},
		"--etcd-ca-file":  {Image: "x", Serving: serving, EtcdCA: []byte("ca")},
		"--etcd-key-file": {Image: "x", Serving: serving, EtcdServers: []string{"https://e:2379"}, EtcdCert: []byte("c")},
		// A plaintext etcd, even with client files: the error says what to give instead.
		`--etcd-servers: "http://etcd-0:2379" is plaintext: give https:// URLs with --etcd-ca-file, --etcd-cert-file and --etcd-key-file`: {
			Image: "x", Serving: serving, EtcdServers: []string{"http://etcd-0:2379"}, EtcdCA: []byte("ca"), EtcdCert: []byte("c"), EtcdKey: []byte("k")},
	} {
		if _, err := Render(o); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error naming %s, got %v", want, err)
		}
	}
}

// TestManifestsThatLeaveTheCertificateToTheServerHoldNoKey: for install.yaml and --export the
// server makes its own certificate (--serving-cert-secret), so the manifests carry no private
// key, no serving Secret, no caBundle to go stale and no volume for the Secret, and the args
// still pass the server's own validation.
func TestManifestsThatLeaveTheCertificateToTheServerHoldNoKey(t *testing.T) {
	for _, o := range []Options{
		{Image: "registry.example.com/ferry-apiserver:v0.3.0", ServerMakesCert: true},
		{Image: "registry.example.com/ferry-apiserver:v0.3.0", ServerMakesCert: true, EtcdServers: []string{"https://etcd-0.etcd:2379"}},
	} {
		objs, err := Render(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range objs {
			data, _ := obj.MarshalJSON()
			if strings.Contains(string(data), "PRIVATE KEY") || strings.Contains(string(data), base64.StdEncoding.EncodeToString([]byte("-----BEGIN"))) {
				t.Errorf("%s %s carries key material", obj.GetKind(), obj.GetName())
			}
		}
		if find(objs, "Secret", ServingSecret) != nil {
			t.Error("the serving Secret is in the manifests")
		}
		if ca, found, _ := unstructured.NestedString(find(objs, "APIService", APIServiceName).Object, "spec", "caBundle"); found {
			t.Errorf("the APIService has a caBundle %q the server would have to overwrite", ca)
		}
		w, c := container(t, objs)
		opts := server.NewOptions(io.Discard, io.Discard)
		fs := pflag.NewFlagSet("ferry-apiserver", pflag.ContinueOnError)
		opts.RecommendedOptions.AddFlags(fs)
		opts.AddFlags(fs)
		if err := fs.Parse(strs(c["args"])); err != nil {
			t.Fatalf("%s: ferry-apiserver refuses its args: %v", w.GetKind(), err)
		}
		if opts.ServingCert.Secret != Namespace+"/"+ServingSecret {
			t.Errorf("%s: --serving-cert-secret is %q", w.GetKind(), opts.ServingCert.Secret)
		}
		if err := opts.Validate(); err != nil {
			t.Errorf("%s: ferry-apiserver refuses its args: %v", w.GetKind(), err)
		}
		volumes, _, _ := unstructured.NestedSlice(w.Object, "spec", "template", "spec", "volumes")
		names := map[string]bool{}
		for _, v := range volumes {
			names[v.(map[string]any)["name"].(string)] = true
			if s, _, _ := unstructured.NestedString(v.(map[string]any), "secret", "secretName"); s == ServingSecret {
				t.Errorf("%s still mounts the serving Secret", w.GetKind())
			}
		}
		mounts, _, _ := unstructured.NestedSlice(c, "volumeMounts")
		for _, m := range mounts {
			if name := m.(map[string]any)["name"].(string); !names[name] && name != "data" {
				t.Errorf("%s mounts volume %s, which it no longer has", w.GetKind(), name)
			}
		}
	}
}
