package release

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
)

// PackageChart packages the chart at dir as `helm package` does, with the release's version as
// the chart's version (without the v) and appVersion (the image's tag), every file's time set to
// modTime. It returns the package's file name in outDir.
func PackageChart(dir, version string, modTime time.Time, outDir string) (string, error) {
	c, err := loader.Load(dir)
	if err != nil {
		return "", fmt.Errorf("loading the chart %s: %w", dir, err)
	}
	c.Metadata.Version = strings.TrimPrefix(version, "v")
	c.Metadata.AppVersion = version
	if err := c.Validate(); err != nil {
		return "", fmt.Errorf("the chart %s: %w", dir, err)
	}
	c.ModTime, c.SchemaModTime = modTime, modTime
	for _, files := range [][]*common.File{c.Templates, c.Files, c.Raw} {
		for _, f := range files {
			f.ModTime = modTime
		}
	}
	path, err := chartutil.Save(c, outDir)
	if err != nil {
		return "", fmt.Errorf("packaging the chart: %w", err)
	}
	return filepath.Base(path), nil
}
