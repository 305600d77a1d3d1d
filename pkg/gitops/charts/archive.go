package charts

import (
	"bytes"
	"fmt"

	"helm.sh/helm/v4/pkg/chart/loader/archive"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// extract reads a chart archive (.tgz) into its files, with paths from the chart's root, within
// the limits of a Git read. Helm's own reader checks the paths (nothing absolute, nothing
// outside the chart's directory).
func extract(data []byte, limits source.Limits) ([]source.File, error) {
	files, err := archive.LoadArchiveFiles(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading the chart archive: %v", err)
	}
	if len(files) > limits.MaxFiles {
		return nil, fmt.Errorf("the chart archive holds %d files, over the limit of %d: %w", len(files), limits.MaxFiles, source.ErrLimitExceeded)
	}
	out := make([]source.File, 0, len(files))
	var total int64
	chartYAML := false
	for _, f := range files {
		size := int64(len(f.Data))
		if size > limits.MaxFileBytes {
			return nil, fmt.Errorf("%s of the chart archive is larger than %d MiB: %w", f.Name, limits.MaxFileBytes>>20, source.ErrLimitExceeded)
		}
		if total += size; total > limits.MaxTotalBytes {
			return nil, fmt.Errorf("the chart archive holds more than %d MiB: %w", limits.MaxTotalBytes>>20, source.ErrLimitExceeded)
		}
		chartYAML = chartYAML || f.Name == "Chart.yaml"
		out = append(out, source.File{Path: f.Name, Data: f.Data})
	}
	if !chartYAML {
		return nil, fmt.Errorf("the archive has no Chart.yaml at its top directory: not a Helm chart")
	}
	return out, nil
}
