// Package image_test builds Ferry's image the way `make image` does, from this checkout, and
// checks what a user of the image relies on: the same commit gives the same digest, the binary
// in the layer runs and says which version and commit it is, and, started exactly as the
// installer's manifests start it (manifests_test.go), it serves and syncs; make release writes a
// complete, verifiable and reproducible release (release_test.go).
package image_test

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-gitops/ferry/pkg/image"
)

const (
	version = "v0.0.0-test"
	commit  = "0123456789abcdef0123456789abcdef01234567"
)

// buildImage builds ferry-apiserver statically into dir and assembles the image; it returns
// the image's digest and the binary as the layer holds it.
func buildImage(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	img := buildImageOnly(t, dir)
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.String(), binaryOf(t, img)
}

// buildImageOnly builds ferry-apiserver statically into dir and assembles the image.
func buildImageOnly(t *testing.T, dir string) v1.Image {
	t.Helper()
	bin := filepath.Join(dir, "ferry-apiserver")
	start := time.Now()
	cmd := exec.Command("go", image.BuildArgs("./cmd/ferry-apiserver", bin, version, commit)...)
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built a static ferry-apiserver in %s", time.Since(start).Round(time.Second))
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	img, err := image.Build(image.Config{Binary: data, Arch: runtime.GOARCH, Version: version, Revision: commit,
		Source: "https://github.com/ferry-gitops/ferry", Created: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// binaryOf is the server's binary as img's layer holds it.
func binaryOf(t *testing.T, img v1.Image) []byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the layer: %v", image.BinaryPath, err)
		}
		if "/"+hdr.Name == image.BinaryPath {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// TestTheImageIsReproducibleAndItsBinaryRuns: two builds of this checkout give one digest, and
// the binary taken out of the layer runs on its own (static: no libc in the image) and prints
// the version and commit stamped into it.
func TestTheImageIsReproducibleAndItsBinaryRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds ferry-apiserver twice")
	}
	first, binary := buildImage(t, t.TempDir())
	second, _ := buildImage(t, t.TempDir())
	if first != second {
		t.Fatalf("two builds of one commit give two images: %s and %s", first, second)
	}
	t.Logf("image digest %s, binary %.1f MiB", first, float64(len(binary))/(1<<20))

	bin := filepath.Join(t.TempDir(), "ferry-apiserver")
	if err := os.WriteFile(bin, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = []string{} // nothing of the build machine's environment
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ferry-apiserver --version from the image: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), version) || !strings.Contains(string(out), commit) {
		t.Errorf("ferry-apiserver --version prints %q; want version %s and commit %s", out, version, commit)
	}
}
