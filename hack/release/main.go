// Command release writes a release of Ferry into dist/ (make release): the image tarball of
// each architecture (hack/image), install.yaml for each etcd mode, the kubectl-ferry archives
// for linux and darwin on amd64 and arm64, the Helm chart package, the krew plugin manifest
// ferry.yaml, and SHA256SUMS over all of them.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/ferry-gitops/ferry/pkg/image"
	"github.com/ferry-gitops/ferry/pkg/install"
	"github.com/ferry-gitops/ferry/pkg/release"
)

func main() {
	var (
		version   = flag.String("version", "", "the release's version, such as v0.3.0")
		commit    = flag.String("commit", "", "full SHA of the commit released")
		created   = flag.String("created", "", "the commit's time, RFC 3339 (git log -1 --format=%cI)")
		dist      = flag.String("dist", "dist", "output directory")
		repo      = flag.String("repository", install.DefaultImageRepository, "the image's repository")
		arches    = flag.String("image-arches", "amd64,arm64", "architectures of the image")
		platforms = flag.String("plugin-platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64", "os/arch of the kubectl-ferry builds")
		baseURL   = flag.String("download-url", "https://github.com/ferry-gitops/ferry/releases/download/<version>", "where the archives are published, for the krew manifest")
	)
	flag.Parse()
	err := run(*version, *commit, *created, *dist, *repo, split(*arches), split(*platforms), strings.ReplaceAll(*baseURL, "<version>", *version))
	if err != nil {
		fmt.Fprintln(os.Stderr, "make release:", err)
		os.Exit(1)
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(version, commit, created, dist, repo string, arches, platforms []string, baseURL string) error {
	if err := release.CheckVersion(version); err != nil {
		return err
	}
	if commit == "" {
		return fmt.Errorf("--commit is required (make release sets it from git)")
	}
	when, err := time.Parse(time.RFC3339, created)
	if err != nil {
		return fmt.Errorf("--created %q: %w", created, err)
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	var files []string
	step := func(format string, args ...any) { fmt.Printf(">>> "+format+"\n", args...) }

	for _, arch := range arches {
		step("image for linux/%s (a first static build takes several minutes)", arch)
		cmd := exec.Command("go", "run", "./hack/image", "--version", version, "--commit", commit, "--created", created,
			"--arch", arch, "--repository", repo, "--dist", dist, "--tarball-only")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("the image for linux/%s: %w", arch, err)
		}
		files = append(files, fmt.Sprintf("ferry-apiserver-%s-linux-%s.tar", version, arch))
		if err := os.RemoveAll(filepath.Join(dist, "linux-"+arch)); err != nil { // the binary, now in the tarball
			return err
		}
	}

	img := repo + ":" + version
	for _, mode := range []string{install.EtcdEmbedded, install.EtcdExternal} {
		data, err := release.InstallYAML(img, mode)
		if err != nil {
			return err
		}
		name := release.InstallYAMLName(mode)
		if err := os.WriteFile(filepath.Join(dist, name), data, 0o644); err != nil {
			return err
		}
		step("%s (etcd %s)", name, mode)
		files = append(files, name)
	}

	sums := map[release.Platform]string{}
	build := filepath.Join(dist, "build")
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(p, "/")
		if !ok {
			return fmt.Errorf("--plugin-platforms: %q is not os/arch", p)
		}
		platform := release.Platform{OS: goos, Arch: goarch}
		step("kubectl-ferry for %s", platform)
		bin := filepath.Join(build, goos+"-"+goarch, "kubectl-ferry")
		cmd := exec.Command("go", image.BuildArgs("./cmd/kubectl-ferry", bin, version, commit)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building kubectl-ferry for %s: %w", platform, err)
		}
		binary, err := os.ReadFile(bin)
		if err != nil {
			return err
		}
		name := release.PluginArchiveName(version, platform)
		if err := release.WritePluginArchive(filepath.Join(dist, name), binary, when); err != nil {
			return err
		}
		if sums[platform], err = release.SHA256File(filepath.Join(dist, name)); err != nil {
			return err
		}
		files = append(files, name)
	}
	if err := os.RemoveAll(build); err != nil {
		return err
	}

	chart, err := release.PackageChart("charts/ferry", version, when, dist)
	if err != nil {
		return err
	}
	step("Helm chart %s", chart)
	files = append(files, chart)

	if len(sums) > 0 {
		krew, err := release.KrewManifest(version, baseURL, sums)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dist, "ferry.yaml"), krew, 0o644); err != nil {
			return err
		}
		step("krew manifest ferry.yaml (archives at %s)", baseURL)
		files = append(files, "ferry.yaml")
	}

	if err := release.WriteChecksums(dist, files); err != nil {
		return err
	}
	step("SHA256SUMS; release %s in %s/ (built on %s/%s):", version, dist, runtime.GOOS, runtime.GOARCH)
	for _, f := range files {
		fmt.Println("    " + f)
	}
	return nil
}
