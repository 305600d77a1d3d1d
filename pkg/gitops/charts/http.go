package charts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Masterminds/semver/v3"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// maxIndexNodes bounds what an index.yaml's YAML aliases may expand to.
const maxIndexNodes = 5_000_000

// index is a Helm repository's index.yaml, its entries sorted highest version first.
type index struct {
	file *repo.IndexFile
}

// get returns the version of ref's chart that constraint names ("" for the newest stable).
func (i *index) get(ref Ref, constraint string) (*repo.ChartVersion, error) {
	versions, ok := i.file.Entries[ref.Chart]
	if !ok || len(versions) == 0 {
		return nil, fmt.Errorf("%s: the repository's index.yaml has no chart %q: %w", redactURL(ref.RepoURL), ref.Chart, ErrNotFound)
	}
	if constraint != "" {
		for _, v := range versions {
			if v.Version == constraint {
				return v, nil
			}
		}
	}
	want, err := parseConstraint(constraint)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		if sv, err := semver.NewVersion(v.Version); err == nil && want.Check(sv) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%s has no version matching %q (newest: %s): %w", ref, orNewest(constraint), versions[0].Version, ErrNotFound)
}

// parseConstraint parses a version or range; "" is any stable version.
func parseConstraint(constraint string) (*semver.Constraints, error) {
	if constraint == "" {
		constraint = "*"
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("%q is not a chart version or semver range: %v: %w", constraint, err, ErrNotFound)
	}
	return c, nil
}

func orNewest(constraint string) string {
	if constraint == "" {
		return "the newest stable version"
	}
	return constraint
}

// downloadIndex downloads and parses a Helm repository's index.yaml, of at most limit bytes.
// What is kept of it is what resolving a version and downloading it need: each version's
// number, archive URLs and digest. An index's descriptions, maintainers, annotations and
// dependency lists make up most of its parsed size, and a listing is kept for many callers.
func (c *Cache) downloadIndex(ctx context.Context, ref Ref, creds *Credentials, limit int64) (*index, error) {
	u := strings.TrimSuffix(ref.RepoURL, "/") + "/index.yaml"
	data, err := c.get(ctx, "the chart repository index", u, hostOf(ref.RepoURL), creds, limit, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(ref.RepoURL), err)
	}
	if err := render.CheckAliases("index.yaml", data, maxIndexNodes); err != nil {
		return nil, fmt.Errorf("%s: %w", redactURL(u), err)
	}
	f := &repo.IndexFile{}
	if err := yaml.Unmarshal(data, f); err != nil {
		return nil, fmt.Errorf("%s is not a Helm repository index: %v", redactURL(u), err)
	}
	// Entries without a version would make the index unusable (Helm skips them too).
	for name, versions := range f.Entries {
		kept := make([]*repo.ChartVersion, 0, len(versions))
		for _, v := range versions {
			if v != nil && v.Metadata != nil && v.Version != "" {
				kept = append(kept, &repo.ChartVersion{
					Metadata: &chartv2.Metadata{Name: v.Name, Version: v.Version},
					URLs:     v.URLs,
					Digest:   v.Digest,
				})
			}
		}
		f.Entries[name] = kept
	}
	f.SortEntries()
	return &index{file: &repo.IndexFile{Entries: f.Entries}}, nil
}

// downloadHTTP downloads the archive of a chart version listed in its repository's index (cv,
// else looked up in the repository's listing), checked against the index's digest.
func (c *Cache) downloadHTTP(ctx context.Context, ref Ref, version string, creds *Credentials, cv *repo.ChartVersion) ([]byte, error) {
	if cv == nil {
		l, err := c.listing(ctx, ref, creds)
		if err != nil {
			return nil, err
		}
		if cv, err = l.index.get(ref, version); err != nil {
			return nil, err
		}
	}
	if cv.Version != version {
		return nil, fmt.Errorf("%s version %s is no longer in the repository's index: %w", ref, version, ErrNotFound)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("%s version %s has no URL in the repository's index", ref, version)
	}
	// The URL is the index's, which whoever serves the index chose: no message names it.
	u, err := repo.ResolveReferenceURL(ref.RepoURL, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("%s version %s: its URL in the index is not a URL", ref, version)
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") {
		return nil, fmt.Errorf("%s version %s: the index points at a URL that is not https or http", ref, version)
	}
	data, err := c.get(ctx, "the chart archive", u, hostOf(ref.RepoURL), creds, c.opts.MaxArchiveBytes, false)
	if err != nil {
		return nil, fmt.Errorf("%s version %s: %w", ref, version, err)
	}
	if want := strings.TrimPrefix(cv.Digest, "sha256:"); want != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, want) {
			return nil, fmt.Errorf("%s version %s: the archive's sha256 is %s, the index says %s: refused", ref, version, got, want)
		}
	}
	return data, nil
}

// get downloads u, at most limit bytes, with the credentials when u is on repoHost (or they are
// passed to every host), within the caller's deadline and Options.Timeout. Errors say what
// failed (what) and how, in Ferry's words: never u (an index's URLs are whoever serves the
// index's choice), nothing the server said, and the exact status only when exactStatus (the
// repository's own index); otherwise its class (4xx), so that a URL pointed at an internal
// service tells little of it.
func (c *Cache) get(ctx context.Context, what, u, repoHost string, creds *Credentials, limit int64, exactStatus bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: not a URL", what)
	}
	creds.authorize(req, repoHost)
	client := &http.Client{Transport: creds.transport(c.opts.Egress)}
	resp, err := client.Do(req)
	if err != nil {
		return nil, &fetchError{msg: fmt.Sprintf("%s: %s", what, egress.Describe(err)), err: sentinel(err)}
	}
	defer resp.Body.Close()
	status := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if !exactStatus {
		status = fmt.Sprintf("HTTP %dxx", resp.StatusCode/100)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("fetch of %s failed (%s): %w (check spec.source.credentialsRef)", what, status, ErrUnauthorized)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("fetch of %s failed (%s): %w", what, status, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("fetch of %s failed (%s)", what, status)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &fetchError{msg: fmt.Sprintf("fetch of %s failed while reading it: %s", what, strings.TrimPrefix(egress.Describe(err), "fetch failed: ")), err: sentinel(err)}
	}
	if n > limit {
		return nil, fmt.Errorf("%s is larger than %d MiB: refused: %w", what, limit>>20, source.ErrLimitExceeded)
	}
	return buf.Bytes(), nil
}

// fetchError is a failed request told in Ferry's words; it unwraps to a sentinel only
// (egress.ErrRefused, a context's error), never to the error that quoted the URL.
type fetchError struct {
	msg string
	err error
}

func (e *fetchError) Error() string { return e.msg }
func (e *fetchError) Unwrap() error { return e.err }

// sentinel is what errors.Is may see of a request's failure.
func sentinel(err error) error {
	for _, s := range []error{egress.ErrRefused, context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
