// Package release writes what a release of Ferry publishes, besides the image: install.yaml for
// each etcd mode, the kubectl-ferry archives, the Helm chart package, a krew plugin manifest and
// SHA-256 checksums. hack/release (make release) drives it.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/install"
)

// Platform is an os/arch kubectl-ferry is built for.
type Platform struct{ OS, Arch string }

func (p Platform) String() string { return p.OS + "/" + p.Arch }

// PluginPlatforms are the platforms of a release's kubectl-ferry.
var PluginPlatforms = []Platform{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}}

var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

// CheckVersion refuses a version a release cannot carry: it becomes the image's tag, the Helm
// chart's version (SemVer) and krew's.
func CheckVersion(v string) error {
	if !semver.MatchString(v) {
		return fmt.Errorf("version %q is not a release version such as v0.3.0 or v0.3.0-rc.1: tag the commit, or give VERSION=v<x.y.z>", v)
	}
	return nil
}

// InstallYAMLName is the name of the release's install.yaml for an etcd mode.
func InstallYAMLName(mode string) string {
	if mode == install.EtcdEmbedded {
		return "install.yaml"
	}
	return "install-external-etcd.yaml"
}

// ExampleEtcdServer is the etcd address install-external-etcd.yaml carries, for the user to
// replace.
const ExampleEtcdServer = "https://etcd.example.com:2379"

// InstallYAML is the manifests of image for one etcd mode, as one `kubectl apply -f` takes them:
// the server makes its own serving certificate, so the file holds no key.
func InstallYAML(image, mode string) ([]byte, error) {
	opts := install.Options{Image: image, ServerMakesCert: true}
	header := fmt.Sprintf(`# Ferry, %s, etcd embedded: a StatefulSet of one keeping its etcd on a 10Gi PersistentVolumeClaim.
#   kubectl apply --server-side -f install.yaml
#   kubectl wait --for=condition=Available apiservice/v1alpha1.gitops.ferry.dev --timeout=5m
# The server makes its serving certificate at its first start (Secret ferry-system/ferry-apiserver-tls)
# and sets the APIService's caBundle. kubectl ferry install offers the same with options.
`, image)
	if mode == install.EtcdExternal {
		opts.EtcdServers = []string{ExampleEtcdServer}
		header = fmt.Sprintf(`# Ferry, %s, with an etcd cluster you run: a Deployment of two with a PodDisruptionBudget.
# Replace %s with your etcd's client URLs before applying. For TLS to etcd, prefer
#   kubectl ferry install --export --etcd-servers=... --etcd-ca-file=... --etcd-cert-file=... --etcd-key-file=...
# which fills in the Secret ferry-etcd-client and the flags that read it.
#   kubectl apply --server-side -f install-external-etcd.yaml
# The server makes its serving certificate at its first start and sets the APIService's caBundle.
`, image, ExampleEtcdServer)
	}
	objs, err := install.Render(opts)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(header)
	if err := install.WriteYAML(&b, objs); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// PluginArchiveName is the name of kubectl-ferry's archive for a platform.
func PluginArchiveName(version string, p Platform) string {
	return fmt.Sprintf("kubectl-ferry-%s-%s-%s.tar.gz", version, p.OS, p.Arch)
}

// WritePluginArchive writes a .tar.gz holding the binary as kubectl-ferry, with every time set to
// modTime and no owner, so that the same binary gives the same archive.
func WritePluginArchive(path string, binary []byte, modTime time.Time) error {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	gz.ModTime = modTime
	tw := tar.NewWriter(gz)
	if err := tw.WriteHeader(&tar.Header{Name: "kubectl-ferry", Mode: 0o755, Size: int64(len(binary)), ModTime: modTime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	if _, err := tw.Write(binary); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// SHA256File is the hex SHA-256 of a file.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// KrewManifest is the krew plugin manifest of a release: one platform per archive, each with the
// URL it is published at (baseURL + "/" + archive name) and its SHA-256.
func KrewManifest(version, baseURL string, sums map[Platform]string) ([]byte, error) {
	platforms := make([]Platform, 0, len(sums))
	for p := range sums {
		platforms = append(platforms, p)
	}
	sort.Slice(platforms, func(i, j int) bool { return platforms[i].String() < platforms[j].String() })
	var entries []map[string]any
	for _, p := range platforms {
		entries = append(entries, map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"os": p.OS, "arch": p.Arch}},
			"uri":      strings.TrimSuffix(baseURL, "/") + "/" + PluginArchiveName(version, p),
			"sha256":   sums[p],
			"bin":      "kubectl-ferry",
			"files":    []map[string]any{{"from": "kubectl-ferry", "to": "."}},
		})
	}
	m := map[string]any{
		"apiVersion": "krew.googlecontainertools.github.com/v1alpha2",
		"kind":       "Plugin",
		"metadata":   map[string]any{"name": "ferry"},
		"spec": map[string]any{
			"version":          version,
			"homepage":         "https://github.com/ferry-gitops/ferry",
			"shortDescription": "Manage Ferry's GitOps Applications",
			"description": "Lists, syncs and inspects Ferry's GitOps Applications (status, diff, health, manifests, history),\n" +
				"and installs or uninstalls Ferry itself (kubectl ferry install).\n",
			"platforms": entries,
		},
	}
	return yaml.Marshal(m)
}

// WriteChecksums writes SHA256SUMS in dir for files (names in dir), in sha256sum's format, so that
// `sha256sum -c SHA256SUMS` checks them.
func WriteChecksums(dir string, files []string) error {
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	var b strings.Builder
	for _, name := range sorted {
		sum, err := SHA256File(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", sum, name)
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(b.String()), 0o644)
}
