package image

import (
	"archive/tar"
	"crypto/x509"
	"encoding/pem"
	"io"
	"strings"
	"testing"
	"time"
)

func testConfig() Config {
	return Config{
		Binary: []byte("\x7fELF not really a binary"), Arch: "arm64",
		Version: "v0.3.0", Revision: strings.Repeat("ab", 20), Source: "https://github.com/ferry-gitops/ferry",
		Created: time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC),
	}
}

// layerEntries reads the image's one layer: the headers and contents by path.
func layerEntries(t *testing.T, cfg Config) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	img, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("want one layer, got %d (%v)", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	headers, data := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		headers["/"+hdr.Name], data["/"+hdr.Name] = hdr, b
	}
	return headers, data
}

// TestTheImageRunsTheServerAsNonRootWithLabels: the entrypoint is the binary, the user is
// 65532, the labels say source, version and revision, and the platform is the binary's.
func TestTheImageRunsTheServerAsNonRootWithLabels(t *testing.T) {
	cfg := testConfig()
	img, err := Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cf.Config.Entrypoint, " "); got != "/usr/local/bin/ferry-apiserver" {
		t.Errorf("entrypoint %q", got)
	}
	if cf.Config.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", cf.Config.User)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" {
		t.Errorf("platform %s/%s, want linux/arm64", cf.OS, cf.Architecture)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   cfg.Source,
		"org.opencontainers.image.version":  "v0.3.0",
		"org.opencontainers.image.revision": cfg.Revision,
		"org.opencontainers.image.created":  "2026-12-02T10:30:00Z",
	} {
		if got := cf.Config.Labels[k]; got != want {
			t.Errorf("label %s = %q, want %q", k, got, want)
		}
	}
	if !cf.Created.Equal(cfg.Created) {
		t.Errorf("created %v, want the commit's time %v", cf.Created, cfg.Created)
	}
}

// TestTheLayerHoldsTheBinaryCAsAndTheUserButNoShell: the binary is executable at the
// entrypoint, the CA file holds parseable roots, passwd names 65532, there is no shell, and
// every file carries the commit's time.
func TestTheLayerHoldsTheBinaryCAsAndTheUserButNoShell(t *testing.T) {
	cfg := testConfig()
	headers, data := layerEntries(t, cfg)
	bin := headers[BinaryPath]
	if bin == nil || bin.Mode&0o111 == 0 || string(data[BinaryPath]) != string(cfg.Binary) {
		t.Fatalf("the binary at %s: %+v", BinaryPath, bin)
	}
	if !strings.Contains(string(data["/etc/passwd"]), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name user 65532: %q", data["/etc/passwd"])
	}
	if h := headers["/home/nonroot/"]; h == nil || h.Uid != UID {
		t.Errorf("the user's home is not the user's: %+v", h)
	}
	rest, n := data[CAPath], 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("a certificate of %s does not parse: %v", CAPath, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("%s holds %d certificates; want the NSS roots (over 100)", CAPath, n)
	}
	for path, h := range headers {
		if strings.HasSuffix(path, "/sh") || strings.HasSuffix(path, "/bash") || strings.HasSuffix(path, "/busybox") {
			t.Errorf("the image holds a shell: %s", path)
		}
		if !h.ModTime.Equal(cfg.Created) {
			t.Errorf("%s has time %v, want the commit's %v", path, h.ModTime, cfg.Created)
		}
	}
}

// TestTheSameInputsGiveTheSameDigest: assembling twice gives one digest; another version, or
// another binary, another.
func TestTheSameInputsGiveTheSameDigest(t *testing.T) {
	digest := func(cfg Config) string {
		img, err := Build(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	first, again := digest(testConfig()), digest(testConfig())
	if first != again {
		t.Fatalf("two builds of the same inputs: %s and %s", first, again)
	}
	other := testConfig()
	other.Version = "v0.3.1"
	if digest(other) == first {
		t.Error("another version gives the same digest")
	}
	other = testConfig()
	other.Binary = append([]byte(nil), other.Binary...)
	other.Binary[len(other.Binary)-1] ^= 1
	if digest(other) == first {
		t.Error("another binary gives the same digest")
	}
}
