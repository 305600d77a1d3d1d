package install

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/action"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const chartDir = "../../charts/ferry"

func loadChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading %s: %v", chartDir, err)
	}
	return c
}

// helmTemplate renders the chart as `helm template ferry charts/ferry` does with values, through
// Helm's own install action, client only.
func helmTemplate(t *testing.T, c *chartv2.Chart, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	install := action.NewInstall(action.NewConfiguration())
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = "ferry"
	install.Namespace = Namespace
	install.Replace = true
	released, err := install.Run(c, values)
	if err != nil {
		return nil, err
	}
	rel := released.(*releasev1.Release)
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(rel.Manifest), 4096)
	for {
		obj := map[string]any{}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("helm template's output: %v\n%s", err, rel.Manifest)
		}
		if len(obj) > 0 {
			objs = append(objs, &unstructured.Unstructured{Object: obj})
		}
	}
	return objs, nil
}

// servingCertOf returns the certificate the chart generated, failing unless it is one the
// installer would keep: complete, for the Service, signed by the CA, with months to run.
func servingCertOf(t *testing.T, objs []*unstructured.Unstructured) ServingCert {
	t.Helper()
	s := find(objs, "Secret", ServingSecret)
	if s == nil {
		t.Fatal("the chart renders no serving Secret")
	}
	data := map[string][]byte{}
	encoded, _, _ := unstructured.NestedStringMap(s.Object, "data")
	for k, v := range encoded {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			t.Fatalf("Secret %s data %s: %v", ServingSecret, k, err)
		}
		data[k] = b
	}
	sc, err := ServingCertFromSecret(data, time.Now())
	if err != nil {
		t.Fatalf("the chart's serving certificate is not one kube-apiserver would trust for %s: %v", ServiceDNSName, err)
	}
	return sc
}

// normalized is obj as JSON would carry it, so that an int64 from one side equals a float64
// from the other.
func normalized(t *testing.T, obj *unstructured.Unstructured) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTheChartRendersWhatTheInstallerRenders: for the same options, `helm template` of
// charts/ferry and kubectl ferry install give the same objects, field for field. The chart's
// own certificate is handed to the installer, so the Secret and the APIService's caBundle are
// compared too.
func TestTheChartRendersWhatTheInstallerRenders(t *testing.T) {
	c := loadChart(t)
	etcdPKI, err := NewServingCert() // any PEM certificate and key serve as etcd's here
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		opts   Options
	}{{
		name: "default values: etcd embedded, the chart's appVersion",
		opts: Options{Image: DefaultImageRepository + ":" + c.Metadata.AppVersion},
	}, {
		name: "embedded, another image and claim size",
		values: map[string]any{
			"image":   map[string]any{"repository": "registry.example.com/platform/ferry-apiserver", "tag": "v0.3.0"},
			"storage": map[string]any{"size": "50Gi"},
		},
		opts: Options{Image: "registry.example.com/platform/ferry-apiserver:v0.3.0", StorageSize: "50Gi"},
	}, {
		name: "external etcd with TLS client files and three replicas",
		values: map[string]any{
			"etcd":     map[string]any{"servers": []any{"https://etcd-0.etcd:2379", "https://etcd-1.etcd:2379"}, "ca": string(etcdPKI.CA), "cert": string(etcdPKI.Cert), "key": string(etcdPKI.Key)},
			"replicas": 3,
		},
		opts: Options{Image: DefaultImageRepository + ":" + c.Metadata.AppVersion, EtcdServers: []string{"https://etcd-0.etcd:2379", "https://etcd-1.etcd:2379"},
			EtcdCA: etcdPKI.CA, EtcdCert: etcdPKI.Cert, EtcdKey: etcdPKI.Key, Replicas: 3},
	}, {
		name:   "external etcd with only a CA",
		values: map[string]any{"etcd": map[string]any{"servers": []any{"https://etcd.storage:2379"}, "ca": string(etcdPKI.CA)}},
		opts:   Options{Image: DefaultImageRepository + ":" + c.Metadata.AppVersion, EtcdServers: []string{"https://etcd.storage:2379"}, EtcdCA: etcdPKI.CA},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			fromHelm, err := helmTemplate(t, c, tc.values)
			if err != nil {
				t.Fatalf("helm template: %v", err)
			}
			tc.opts.Serving = servingCertOf(t, fromHelm)
			fromInstaller, err := Render(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			byKey := map[string]*unstructured.Unstructured{}
			for _, o := range fromHelm {
				if _, dup := byKey[objectKey(o)]; dup {
					t.Errorf("helm template renders %s twice", objectKey(o))
				}
				byKey[objectKey(o)] = o
			}
			for _, want := range fromInstaller {
				got, ok := byKey[objectKey(want)]
				if !ok {
					t.Errorf("helm template lacks %s", objectKey(want))
					continue
				}
				delete(byKey, objectKey(want))
				if d := cmp.Diff(normalized(t, want), normalized(t, got)); d != "" {
					t.Errorf("%s differs (-installer +helm):\n%s", objectKey(want), d)
				}
			}
			for k := range byKey {
				t.Errorf("helm template renders %s, which the installer does not", k)
			}
		})
	}
}

// TestTheChartRefusesBadValues: values the installer would refuse are refused by the chart too,
// naming the value, before anything is rendered.
func TestTheChartRefusesBadValues(t *testing.T) {
	c := loadChart(t)
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"an etcd address that is no URL", map[string]any{"etcd": map[string]any{"servers": []any{"etcd-0:2379"}}}, "/etcd/servers/0"},
		{"a plaintext etcd", map[string]any{"etcd": map[string]any{"servers": []any{"https://etcd-0:2379", "http://etcd-1:2379"}}}, "/etcd/servers/1"},
		{"a client certificate without its key", map[string]any{"etcd": map[string]any{"servers": []any{"https://etcd:2379"}, "cert": "-----BEGIN CERTIFICATE-----\n"}}, "etcd.cert and etcd.key go together"},
		{"etcd files without etcd servers", map[string]any{"etcd": map[string]any{"ca": "-----BEGIN CERTIFICATE-----\n"}}, "go with etcd.servers"},
		{"no replicas", map[string]any{"etcd": map[string]any{"servers": []any{"https://etcd:2379"}}, "replicas": 0}, "/replicas"},
		{"a storage size that is no quantity", map[string]any{"storage": map[string]any{"size": "ten gigs"}}, "/storage/size"},
		{"a misspelt value", map[string]any{"replica": 3}, "replica"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, c, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("helm template: %v; want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestTheChartsTemplatesAreGeneratedFromArtifacts: the templates in charts/ferry are what
// ChartTemplates writes now (make update regenerates them), so an edit of artifacts/ reaches
// the chart.
func TestTheChartsTemplatesAreGeneratedFromArtifacts(t *testing.T) {
	files, err := ChartTemplates()
	if err != nil {
		t.Fatal(err)
	}
	c := loadChart(t)
	onDisk := map[string][]byte{}
	for _, f := range c.Templates {
		onDisk[strings.TrimPrefix(f.Name, "templates/")] = f.Data
	}
	for name, want := range files {
		if !bytes.Equal(onDisk[name], want) {
			t.Errorf("charts/ferry/templates/%s is stale: run make update (hack/update-codegen.sh) and commit it", name)
		}
	}
}
