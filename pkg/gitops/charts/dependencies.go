package charts

import (
	"context"
	"fmt"
	"path"
	"strings"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"
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
//
// Whoever writes the chart chooses the repositories, so the downloads are bounded: at most
// Options.MaxDependencies of them, each index.yaml at most Options.MaxDependencyIndexBytes and
// dropped once the version is chosen (not kept as the listing of an Application's own chart
// repository is), every request under the egress policy and within ctx's deadline.
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
	var wanted []*chartv2.Dependency
	seen := map[string]bool{}
	for _, d := range meta.Dependencies {
		if d == nil || d.Name == "" || vendored(byPath, dir, d.Name) || seen[d.Name] {
			continue
		}
		seen[d.Name] = true
		wanted = append(wanted, d)
	}
	if len(wanted) > c.opts.MaxDependencies {
		return nil, pinned, fmt.Errorf("%s: %d dependencies to download, over the limit of %d: vendor them in charts/ (helm dependency build): %w",
			path.Join(dir, "Chart.yaml"), len(wanted), c.opts.MaxDependencies, source.ErrLimitExceeded)
	}
	var total int64
	for _, d := range wanted {
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
		got, ok := c.lockedInCache(ref, constraint, depCreds, locked)
		if !ok {
			version, cv, err := c.resolveDependency(ctx, ref, constraint, depCreds)
			if err != nil {
				return nil, pinned, fmt.Errorf("%s: %w", where, err)
			}
			if got, err = c.fetch(ctx, ref, version, depCreds, cv); err != nil {
				return nil, pinned, fmt.Errorf("%s: %w", where, err)
			}
		}
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

// lockedInCache returns the files of a dependency Chart.lock pins, when the cache holds them: no
// listing of its repository is needed then.
func (c *Cache) lockedInCache(ref Ref, version string, creds *Credentials, locked bool) ([]source.File, bool) {
	if !locked {
		return nil, false
	}
	files, ok := c.charts.Get(strings.Join([]string{ref.RepoURL, ref.Chart, version, creds.cacheID()}, "\x00"))
	if !ok {
		return nil, false
	}
	return files.([]source.File), true
}

// resolveDependency resolves a dependency's version against a listing of its repository made
// for this call and not kept: for a Helm repository, the version's entry in an index of at most
// Options.MaxDependencyIndexBytes.
func (c *Cache) resolveDependency(ctx context.Context, ref Ref, constraint string, creds *Credentials) (string, *repo.ChartVersion, error) {
	c.mu.Lock()
	c.stats.Listings++
	c.mu.Unlock()
	if ref.IsOCI() {
		tags, err := c.listTags(ctx, ref, creds)
		if err != nil {
			return "", nil, err
		}
		version, err := pickTag(tags, ref, constraint)
		return version, nil, err
	}
	idx, err := c.downloadIndex(ctx, ref, creds, c.opts.MaxDependencyIndexBytes)
	if err != nil {
		return "", nil, err
	}
	cv, err := idx.get(ref, constraint)
	if err != nil {
		return "", nil, err
	}
	return cv.Version, cv, nil
}
