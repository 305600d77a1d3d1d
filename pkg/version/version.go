// Package version is the version and commit Ferry's binaries were built from: stamped by `make
// image` and `make release` with -ldflags -X, else read from the Go toolchain's build
// information (the commit of a checkout, the module version of `go install ...@v1.2.3`).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at build time: go build -ldflags "-X github.com/ferry-gitops/ferry/pkg/version.version=v0.3.0
// -X github.com/ferry-gitops/ferry/pkg/version.commit=<sha>".
var (
	version string
	commit  string
)

// Info says what a binary was built from.
type Info struct {
	// Version is a release's tag (v0.3.0), `git describe` output between releases, or
	// "(devel)" for a build that says nothing of it.
	Version string `json:"version"`
	// Commit is the full SHA of the commit built, with "-dirty" when the work tree had changes.
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the build's Info.
func Get() Info {
	info := Info{Version: version, Commit: commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if info.Version == "" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			var modified bool
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					info.Commit = s.Value
				case "vcs.modified":
					modified = s.Value == "true"
				}
			}
			if modified && info.Commit != "" {
				info.Commit += "-dirty"
			}
		}
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	return info
}

// String is the one line `--version` prints.
func (i Info) String() string {
	s := i.Version
	if i.Commit != "" {
		s += " (commit " + i.Commit + ")"
	}
	return fmt.Sprintf("%s, %s, %s", s, i.GoVersion, i.Platform)
}

// Released says whether the binary was stamped with a version at build time (make image, make
// release), as opposed to a plain go build or go install of a checkout.
func Released() bool { return version != "" }
