package charts

import (
	"context"
	"fmt"
	"path"
	"strings"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// Dependencies returns the files of the dependencies the chart at dir of files declares and does
// not vendor in its charts/ directory, downloaded from their repositories as `helm dependency
// build` would: at the versions Chart.lock pins, else the newest matching Chart.yaml's range.
// They come back under dir/charts/<name>/. pinned says whether every download was pinned by
// Chart.lock (a render that used a range may change without the chart changing).
//
// from is the repository the chart itself came from (empty for a chart in Git): creds go to a
// dependency's repository only when it is on from's host, or creds pass to every host.
func (c *Cache) Dependencies(ctx context.Context, files []source.File, dir string, from string, creds *Credentials) (deps []source.File, pinned bool, err error) {
	byPath := make(map[string][]byte, len(files))
	for _, f := range files {
		byPath[f.Path] = f.Data
	}
	chartYAML, ok := byPath[path.Join(dir, "Chart.yaml")]
	if !ok {
		return nil, true, nil
	}
	var meta chartv2.Metadata
	if err := yaml.Unmarshal(chartYAML, &meta); err != nil {
		return nil, true, nil // Helm's loader says what is wrong with it
	}
	if len(meta.Dependencies) == 0 {
		return nil, true, nil
	}
	var lock chartv2.Lock
	if data, ok := byPath[path.Join(dir, "Chart.lock")]; ok {
		if err := yaml.Unmarshal(data, &lock); err != nil {
			return nil, true, fmt.Errorf("%s: %v", path.Join(dir, "Chart.lock"), err)
		}
	}
	pinned = true
	fetched := map[string]bool{}
	var total int64
	for _, d := range meta.Dependencies {
		if d == nil || d.Name == "" || vendored(byPath, dir, d.Name) || fetched[d.Name] {
			continue
		}
		where := fmt.Sprintf("%s: dependency %q", path.Join(dir, "Chart.yaml"), d.Name)
		repo := d.Repository
		switch {
		case repo == "":
			return nil, pinned, fmt.Errorf("%s is not in charts/ and names no repository: %w", where, ErrNotFound)
		case strings.HasPrefix(repo, "file://"):
			return nil, pinned, fmt.Errorf("%s is a file:// dependency that is not in charts/: run `helm dependency build` and commit charts/: %w", where, ErrNotFound)
		case strings.HasPrefix(repo, "@") || strings.HasPrefix(repo, "alias:"):
			return nil, pinned, fmt.Errorf("%s names repository %q by a local alias, which only a helm client's configuration knows: use the repository's URL: %w", where, repo, ErrNotFound)
		case !strings.HasPrefix(repo, "https://") && !strings.HasPrefix(repo, "http://") && !strings.HasPrefix(repo, "oci://"):
			return nil, pinned, fmt.Errorf("%s has repository %q, which is not an https, http or oci URL: %w", where, repo, ErrNotFound)
		}
		constraint, locked := d.Version, false
		for _, l := range lock.Dependencies {
			if l != nil && l.Name == d.Name && l.Repository == d.Repository && l.Version != "" {
				constraint, locked = l.Version, true
			}
		}
		pinned = pinned && locked
		var depCreds *Credentials
		if creds != nil && (creds.PassCredentials || (from != "" && hostOf(repo) == hostOf(from))) {
			depCreds = creds
		}
		ref := Ref{RepoURL: repo, Chart: d.Name}
		version, err := c.Resolve(ctx, ref, constraint, depCreds)
		if err != nil {
			return nil, pinned, fmt.Errorf("%s: %w", where, err)
		}
		got, err := c.Fetch(ctx, ref, version, depCreds)
		if err != nil {
			return nil, pinned, fmt.Errorf("%s: %w", where, err)
		}
		fetched[d.Name] = true
		prefix := path.Join(dir, "charts", d.Name)
		for _, f := range got {
			if total += int64(len(f.Data)); total > c.opts.Limits.MaxTotalBytes {
				return nil, pinned, fmt.Errorf("%s: the dependencies hold more than %d MiB: %w", path.Join(dir, "Chart.yaml"), c.opts.Limits.MaxTotalBytes>>20, source.ErrLimitExceeded)
			}
			deps = append(deps, source.File{Path: path.Join(prefix, f.Path), Data: f.Data})
		}
	}
	return deps, pinned, nil
}

// vendored says whether the chart at dir has dependency name in its charts/ directory, as a
// directory or as an archive.
func vendored(byPath map[string][]byte, dir, name string) bool {
	if _, ok := byPath[path.Join(dir, "charts", name, "Chart.yaml")]; ok {
		return true
	}
	prefix := path.Join(dir, "charts", name) + "-"
	for p := range byPath {
		if strings.HasPrefix(p, prefix) && strings.HasSuffix(p, ".tgz") && !strings.Contains(strings.TrimPrefix(p, prefix), "/") {
			return true
		}
	}
	return false
}
