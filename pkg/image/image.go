// Package image assembles Ferry's container image from a built ferry-apiserver binary without a
// base image, a registry or a container runtime: one layer holding the static binary, the CA
// certificates Go's x509roots bundle pins, and the non-root user 65532 (no shell, no package
// manager), and a config with the standard org.opencontainers.image labels. Every timestamp is
// the commit's and every file is written in one order, so the same binary and inputs always give
// the same digest.
package image

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Paths and identity inside the image.
const (
	BinaryPath = "/usr/local/bin/ferry-apiserver"
	CAPath     = "/etc/ssl/certs/ca-certificates.crt"
	// UID and GID the server runs as: distroless's "nonroot", which Pod security contexts
	// (runAsNonRoot) accept without naming a user.
	UID = 65532
)

// Config is what goes into the image.
type Config struct {
	// Binary is ferry-apiserver built for linux/Arch, statically (CGO_ENABLED=0).
	Binary []byte
	Arch   string
	// Version (v0.3.0, or git describe output), Revision (the commit's SHA) and Source (the
	// repository's URL) become the org.opencontainers.image labels.
	Version, Revision, Source string
	// Created is the commit's time: the layer's file times and the image's creation time, so a
	// rebuild of the same commit is the same image.
	Created time.Time
}

// Build returns the image.
func Build(cfg Config) (v1.Image, error) {
	if len(cfg.Binary) == 0 {
		return nil, fmt.Errorf("no ferry-apiserver binary given")
	}
	if cfg.Arch == "" {
		return nil, fmt.Errorf("no architecture given for the binary (amd64, arm64)")
	}
	created := cfg.Created.UTC().Truncate(time.Second)
	layerTar, err := layerFiles(cfg.Binary, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "ferry: make image", Comment: "ferry-apiserver, CA certificates, user 65532"},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = cfg.Arch, "linux"
	cf.Created = v1.Time{Time: created}
	cf.Config = v1.Config{
		Entrypoint: []string{BinaryPath},
		User:       fmt.Sprintf("%d:%d", UID, UID),
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/bin", "SSL_CERT_FILE=" + CAPath, "HOME=/home/nonroot"},
		Labels:     Labels(cfg),
	}
	return mutate.ConfigFile(img, cf)
}

// Labels are the image's org.opencontainers.image annotations.
func Labels(cfg Config) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "ferry-apiserver",
		"org.opencontainers.image.description": "Ferry: GitOps as a native Kubernetes API (aggregated API server and controller)",
		"org.opencontainers.image.source":      cfg.Source,
		"org.opencontainers.image.version":     cfg.Version,
		"org.opencontainers.image.revision":    cfg.Revision,
		"org.opencontainers.image.created":     cfg.Created.UTC().Truncate(time.Second).Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// layerFiles is the layer's tar: directories before their files, in a fixed order, owned by
// root except the user's home, every time the commit's.
func layerFiles(binary []byte, created time.Time) ([]byte, error) {
	type entry struct {
		name     string
		mode     int64
		uid      int
		data     []byte
		dir      bool
		typeflag byte
	}
	dir := func(name string, mode int64, uid int) entry {
		return entry{name: name, mode: mode, uid: uid, dir: true, typeflag: tar.TypeDir}
	}
	file := func(name string, mode int64, data []byte) entry {
		return entry{name: name, mode: mode, data: data, typeflag: tar.TypeReg}
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", UID, UID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", UID)
	entries := []entry{
		dir("etc/", 0o755, 0),
		file("etc/group", 0o644, []byte(group)),
		file("etc/passwd", 0o644, []byte(passwd)),
		dir("etc/ssl/", 0o755, 0),
		dir("etc/ssl/certs/", 0o755, 0),
		file("etc/ssl/certs/ca-certificates.crt", 0o644, caBundle()),
		dir("home/", 0o755, 0),
		dir("home/nonroot/", 0o700, UID),
		dir("tmp/", 0o1777, 0),
		dir("usr/", 0o755, 0),
		dir("usr/local/", 0o755, 0),
		dir("usr/local/bin/", 0o755, 0),
		file("usr/local/bin/ferry-apiserver", 0o755, binary),
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: e.typeflag, Name: e.name, Mode: e.mode, Size: int64(len(e.data)),
			Uid: e.uid, Gid: e.uid, ModTime: created, Format: tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", e.name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing %s into the layer: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// caBundle is the NSS roots of Go's x509roots bundle (a pinned module version, so the same for
// every build of a commit) as PEM. Roots with constraints X.509 cannot express are left out: a
// file of certificates cannot carry them.
func caBundle() []byte {
	var out bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return out.Bytes()
}

// LDFlags stamp version and commit into Ferry's binaries (package version) and strip the symbol
// table and DWARF, as releases are built.
func LDFlags(version, commit string) string {
	const pkg = "github.com/ferry-gitops/ferry/pkg/version"
	return fmt.Sprintf("-s -w -X %s.version=%s -X %s.commit=%s", pkg, version, pkg, commit)
}

// BuildArgs are the arguments of `go build` for a reproducible static binary of main package
// pkg (such as ./cmd/ferry-apiserver) at out: run with CGO_ENABLED=0 and GOOS/GOARCH set.
// -trimpath and -buildvcs=false keep the build machine's paths and the work tree's state out.
func BuildArgs(pkg, out, version, commit string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false", "-ldflags", LDFlags(version, commit), "-o", out, pkg}
}
