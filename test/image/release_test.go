package image_test

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/install"
	"github.com/ferry-gitops/ferry/pkg/release"
)

const releaseVersion = "v0.0.0-test.1"

// makeRelease runs make release's command for this machine's platform only into dir and
// returns its SHA256SUMS.
func makeRelease(t *testing.T, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("go", "run", "./hack/release", "--version", releaseVersion, "--commit", commit,
		"--created", "2026-12-02T00:00:00Z", "--dist", dir,
		"--image-arches", runtime.GOARCH, "--plugin-platforms", runtime.GOOS+"/"+runtime.GOARCH)
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make release: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not sha256sum's format", sc.Text())
		}
		sums[name] = sum
	}
	return sums
}

// TestAReleaseIsCompleteVerifiableAndReproducible: make release writes every artifact a user
// installs from, each listed in SHA256SUMS with its true sum; the krew manifest points at the
// archives with their sums; the plugin in its archive runs and says its version; install.yaml
// holds no private key and names the release's image; the chart package carries the release's
// version and defaults to its image; and a second run gives the same bytes.
func TestAReleaseIsCompleteVerifiableAndReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the image and the plugin")
	}
	dir := t.TempDir()
	sums := makeRelease(t, dir)
	platform := release.Platform{OS: runtime.GOOS, Arch: runtime.GOARCH}
	want := []string{
		"ferry-apiserver-" + releaseVersion + "-linux-" + runtime.GOARCH + ".tar",
		"install.yaml", "install-external-etcd.yaml",
		release.PluginArchiveName(releaseVersion, platform),
		"ferry-0.0.0-test.1.tgz", "ferry.yaml",
	}
	for _, name := range want {
		if sums[name] == "" {
			t.Errorf("SHA256SUMS does not list %s", name)
		}
	}
	for name, sum := range sums {
		got, err := release.SHA256File(filepath.Join(dir, name))
		if err != nil || got != sum {
			t.Errorf("%s: SHA256SUMS says %s, the file's is %s (%v)", name, sum, got, err)
		}
	}

	// krew: every platform's archive is in the release, with its sum.
	var krew struct {
		Kind string
		Spec struct {
			Version   string
			Platforms []struct {
				URI, Sha256, Bin string
			}
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "ferry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &krew); err != nil {
		t.Fatal(err)
	}
	if krew.Kind != "Plugin" || krew.Spec.Version != releaseVersion || len(krew.Spec.Platforms) != 1 {
		t.Fatalf("krew manifest: %+v", krew)
	}
	for _, p := range krew.Spec.Platforms {
		if name := path.Base(p.URI); sums[name] != p.Sha256 {
			t.Errorf("krew's %s has sha256 %s; the release's is %s", p.URI, p.Sha256, sums[name])
		}
	}

	// The plugin, out of its archive, says which release it is.
	bin := extractPlugin(t, filepath.Join(dir, release.PluginArchiveName(releaseVersion, platform)))
	out, err := exec.Command(bin, "version", "-o", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl-ferry version: %v\n%s", err, out)
	}
	var v struct{ Version, Commit string }
	if err := json.Unmarshal(out, &v); err != nil || v.Version != releaseVersion || v.Commit != commit {
		t.Errorf("kubectl-ferry version -o json: %s (%v); want version %s, commit %s", out, err, releaseVersion, commit)
	}

	image := install.DefaultImageRepository + ":" + releaseVersion
	for _, name := range []string{"install.yaml", "install-external-etcd.yaml"} {
		text, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(text), "PRIVATE KEY") || strings.Contains(string(text), "LS0tLS1CRUdJTi") {
			t.Errorf("%s carries key material", name)
		}
		if !strings.Contains(string(text), "image: "+image+"\n") {
			t.Errorf("%s does not run %s", name, image)
		}
	}

	chart, err := loader.Load(filepath.Join(dir, "ferry-0.0.0-test.1.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if chart.Metadata.Version != "0.0.0-test.1" || chart.Metadata.AppVersion != releaseVersion {
		t.Errorf("the chart package is version %s, appVersion %s", chart.Metadata.Version, chart.Metadata.AppVersion)
	}

	again := makeRelease(t, t.TempDir())
	for name, sum := range sums {
		if again[name] != sum {
			t.Errorf("%s differs between two releases of one commit", name)
		}
	}
}

func extractPlugin(t *testing.T, archive string) string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no kubectl-ferry in %s: %v", archive, err)
		}
		if hdr.Name == "kubectl-ferry" {
			bin := filepath.Join(t.TempDir(), "kubectl-ferry")
			out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(out, tr); err != nil {
				t.Fatal(err)
			}
			out.Close()
			return bin
		}
	}
}
