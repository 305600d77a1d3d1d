// Command image builds ferry-apiserver statically for linux and assembles Ferry's container
// image from it (package image), into dist/: an OCI image layout and a tarball that `docker
// load`, `podman load`, `kind load image-archive` and `crane push` take. `make image` runs it
// with the version and commit of the checkout.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/ferry-gitops/ferry/pkg/image"
)

func main() {
	var (
		version  = flag.String("version", "", "version to stamp and label, such as v0.3.0 (git describe)")
		commit   = flag.String("commit", "", "full SHA of the commit built")
		created  = flag.String("created", "", "the commit's time, RFC 3339 (git log -1 --format=%cI)")
		arch     = flag.String("arch", "amd64", "architecture: amd64 or arm64")
		repo     = flag.String("repository", "ghcr.io/ferry-gitops/ferry-apiserver", "the image's repository, for its tag")
		source   = flag.String("source", "https://github.com/ferry-gitops/ferry", "org.opencontainers.image.source")
		dist     = flag.String("dist", "dist", "output directory")
		binaryIn = flag.String("binary", "", "use this linux binary instead of building one")
		tarOnly  = flag.Bool("tarball-only", false, "write only the tarball (make release, one per architecture)")
	)
	flag.Parse()
	if err := run(*version, *commit, *created, *arch, *repo, *source, *dist, *binaryIn, *tarOnly); err != nil {
		fmt.Fprintln(os.Stderr, "make image:", err)
		os.Exit(1)
	}
}

func run(version, commit, created, arch, repo, source, dist, binaryPath string, tarOnly bool) error {
	if version == "" || commit == "" || created == "" {
		return fmt.Errorf("--version, --commit and --created are required (make image sets them from git)")
	}
	when, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return fmt.Errorf("--created %q: %w", created, err)
	}
	if binaryPath == "" {
		binaryPath = filepath.Join(dist, "linux-"+arch, "ferry-apiserver")
		fmt.Printf(">>> building ferry-apiserver %s for linux/%s (static, -trimpath; a first build takes a few minutes)\n", version, arch)
		cmd := exec.Command("go", image.BuildArgs("./cmd/ferry-apiserver", binaryPath, version, commit)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	binary, err := os.ReadFile(binaryPath)
	if err != nil {
		return err
	}
	img, err := image.Build(image.Config{Binary: binary, Arch: arch, Version: version, Revision: commit, Source: source, Created: when})
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	tag, err := name.NewTag(repo + ":" + version)
	if err != nil {
		return fmt.Errorf("tag %s:%s: %w", repo, version, err)
	}
	tarPath := filepath.Join(dist, fmt.Sprintf("ferry-apiserver-%s-linux-%s.tar", version, arch))
	if err := tarball.WriteToFile(tarPath, tag, img); err != nil {
		return fmt.Errorf("writing %s: %w", tarPath, err)
	}
	if tarOnly {
		fmt.Printf(">>> %s@%s (linux/%s)\n    tarball: %s\n", tag, digest, arch, tarPath)
		return nil
	}
	layoutDir := filepath.Join(dist, "oci")
	if err := os.RemoveAll(layoutDir); err != nil {
		return err
	}
	lp, err := layout.Write(layoutDir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing the OCI layout %s: %w", layoutDir, err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.String()})); err != nil {
		return fmt.Errorf("writing the OCI layout %s: %w", layoutDir, err)
	}
	if err := os.WriteFile(filepath.Join(dist, "ferry-apiserver-image.digest"), []byte(digest.String()+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf(">>> %s@%s\n    tarball: %s (docker load -i / kind load image-archive)\n    OCI layout: %s\n", tag, digest, tarPath, layoutDir)
	return nil
}
