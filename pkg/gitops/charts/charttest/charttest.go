// Package charttest publishes Helm charts for tests and the benchmark driver (any gittest.T), made with the Helm SDK as `helm package`
// makes them: a Helm repository (index.yaml and archives) and a real OCI registry
// (go-containerregistry's), both on 127.0.0.1, optionally behind basic auth, counting what is
// downloaded from them.
package charttest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/provenance"
	helmregistry "helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// Package packages a chart (files with paths from its root) as `helm package` does, and returns
// the archive and the chart's metadata.
func Package(t gittest.T, files map[string]string) ([]byte, *chartv2.Metadata) {
	t.Helper()
	var buffered []*archive.BufferedFile
	for name, content := range files {
		buffered = append(buffered, &archive.BufferedFile{Name: name, Data: []byte(content)})
	}
	chrt, err := loader.LoadFiles(buffered)
	if err != nil {
		t.Fatal(err)
	}
	path, err := chartutil.Save(chrt, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data, chrt.Metadata
}

// WithVersion returns a copy of a chart's files with Chart.yaml's version set.
func WithVersion(files map[string]string, version string) map[string]string {
	out := make(map[string]string, len(files))
	for k, v := range files {
		out[k] = v
	}
	var meta map[string]any
	if err := yaml.Unmarshal([]byte(files["Chart.yaml"]), &meta); err != nil {
		panic(err)
	}
	meta["version"] = version
	b, _ := yaml.Marshal(meta)
	out["Chart.yaml"] = string(b)
	return out
}

// counter counts requests by path.
type counter struct {
	mu   sync.Mutex
	hits map[string]int
}

func (c *counter) add(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hits == nil {
		c.hits = map[string]int{}
	}
	c.hits[path]++
}

func (c *counter) count(match func(path string) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, h := range c.hits {
		if match(p) {
			n += h
		}
	}
	return n
}

// countAll wraps h with a count of every request, whatever its method, path or credentials.
func countAll(n *atomic.Int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// basicAuth wraps h with a check of username and password, when set.
func basicAuth(h http.Handler, username, password string) http.Handler {
	if username == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != username || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Repo is a Helm repository: index.yaml and the archives it lists.
type Repo struct {
	// URL is the repository's URL, http://127.0.0.1:port/charts.
	URL string

	mu       sync.Mutex
	index    *repo.IndexFile
	archives map[string][]byte
	requests counter
	all      atomic.Int64
}

// NewRepo starts an empty Helm repository; with a username, it asks for basic auth.
func NewRepo(t gittest.T, username, password string) *Repo {
	r := &Repo{index: repo.NewIndexFile(), archives: map[string][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/charts/", func(w http.ResponseWriter, req *http.Request) {
		r.requests.add(req.URL.Path)
		name := strings.TrimPrefix(req.URL.Path, "/charts/")
		r.mu.Lock()
		defer r.mu.Unlock()
		if name == "index.yaml" {
			r.index.SortEntries()
			b, err := yaml.Marshal(r.index)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write(b)
			return
		}
		data, ok := r.archives[name]
		if !ok {
			http.NotFound(w, req)
			return
		}
		_, _ = w.Write(data)
	})
	srv := httptest.NewServer(countAll(&r.all, basicAuth(mux, username, password)))
	t.Cleanup(srv.Close)
	r.URL = srv.URL + "/charts"
	return r
}

// Publish packages a chart and adds it to the repository's index, as `helm package` and `helm
// repo index --merge` would.
func (r *Repo) Publish(t gittest.T, files map[string]string) {
	t.Helper()
	data, meta := Package(t, files)
	digest, err := provenance.Digest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	name := meta.Name + "-" + meta.Version + ".tgz"
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.index.MustAdd(meta, name, "", digest); err != nil {
		t.Fatal(err)
	}
	r.archives[name] = data
}

// Downloads counts the downloads of a chart's archives (any version).
func (r *Repo) Downloads(chart string) int {
	return r.requests.count(func(p string) bool { return strings.HasPrefix(p, "/charts/"+chart+"-") })
}

// Requests counts every request the repository got.
func (r *Repo) Requests() int { return int(r.all.Load()) }

// IndexDownloads counts the downloads of index.yaml.
func (r *Repo) IndexDownloads() int {
	return r.requests.count(func(p string) bool { return p == "/charts/index.yaml" })
}

// Registry is an OCI registry serving charts over TLS.
type Registry struct {
	// URL is the chart repository's URL, oci://127.0.0.1:port/charts.
	URL string
	// CA is the PEM certificate the registry serves with, for a Secret's ca.crt.
	CA []byte

	host               string
	username, password string
	client             *http.Client
	requests           counter
	all                atomic.Int64
}

// NewRegistry starts an empty OCI registry on 127.0.0.1 over TLS; with a username, it asks for
// basic auth.
func NewRegistry(t gittest.T, username, password string) *Registry {
	r := &Registry{username: username, password: password}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	counting := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet {
			r.requests.add(req.URL.Path)
		}
		reg.ServeHTTP(w, req)
	})
	srv := httptest.NewUnstartedServer(countAll(&r.all, basicAuth(counting, username, password)))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // clients refusing its certificate are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	r.CA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	r.host = strings.TrimPrefix(srv.URL, "https://")
	r.URL = "oci://" + r.host + "/charts"
	r.client = srv.Client()
	return r
}

// Push packages a chart and pushes it as `helm push` does, tagged with its version.
func (r *Registry) Push(t gittest.T, files map[string]string) {
	t.Helper()
	data, meta := Package(t, files)
	opts := []helmregistry.ClientOption{
		helmregistry.ClientOptHTTPClient(r.client),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")),
	}
	if r.username != "" {
		opts = append(opts, helmregistry.ClientOptBasicAuth(r.username, r.password))
	}
	client, err := helmregistry.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ref := r.host + "/charts/" + meta.Name + ":" + meta.Version
	if _, err := client.Push(data, ref); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
}

// Requests counts every request the registry got.
func (r *Registry) Requests() int { return int(r.all.Load()) }

// BlobDownloads counts the blob downloads of a chart's repository (its layers and config).
func (r *Registry) BlobDownloads(chart string) int {
	return r.requests.count(func(p string) bool {
		return strings.HasPrefix(p, "/v2/charts/"+chart+"/blobs/")
	})
}

// CertPool returns a pool holding the registry's certificate.
func (r *Registry) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.CA)
	return pool
}

// Replace swaps the archive of a published chart version for another packaging of files without
// updating the index: an archive changed after it was indexed.
func (r *Repo) Replace(t gittest.T, files map[string]string) {
	t.Helper()
	data, meta := Package(t, files)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.archives[meta.Name+"-"+meta.Version+".tgz"] = data
}
