package charts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/Masterminds/semver/v3"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"

	"github.com/ferry-gitops/ferry/pkg/gitops/render"
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

// downloadIndex downloads and parses a Helm repository's index.yaml.
func (c *Cache) downloadIndex(ctx context.Context, ref Ref, creds *Credentials) (*index, error) {
	u := strings.TrimSuffix(ref.RepoURL, "/") + "/index.yaml"
	data, err := c.get(ctx, u, hostOf(ref.RepoURL), creds, c.opts.MaxIndexBytes)
	if err != nil {
		return nil, err
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
		kept := versions[:0]
		for _, v := range versions {
			if v != nil && v.Metadata != nil && v.Version != "" {
				kept = append(kept, v)
			}
		}
		f.Entries[name] = kept
	}
	f.SortEntries()
	return &index{file: f}, nil
}

// downloadHTTP downloads the archive of a chart version listed in its repository's index,
// checked against the index's digest.
func (c *Cache) downloadHTTP(ctx context.Context, ref Ref, version string, creds *Credentials) ([]byte, error) {
	l, err := c.listing(ctx, ref, creds)
	if err != nil {
		return nil, err
	}
	cv, err := l.index.get(ref, version)
	if err != nil {
		return nil, err
	}
	if cv.Version != version {
		return nil, fmt.Errorf("%s version %s is no longer in the repository's index: %w", ref, version, ErrNotFound)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("%s version %s has no URL in the repository's index", ref, version)
	}
	u, err := repo.ResolveReferenceURL(ref.RepoURL, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("%s version %s: its URL in the index: %v", ref, version, err)
	}
	if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && p.Scheme != "http") {
		return nil, fmt.Errorf("%s version %s: the index points at %s, which is not an https or http URL", ref, version, redactURL(u))
	}
	data, err := c.get(ctx, u, hostOf(ref.RepoURL), creds, c.opts.MaxArchiveBytes)
	if err != nil {
		return nil, err
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
// passed to every host). Errors name the URL without userinfo and never quote a response.
func (c *Cache) get(ctx context.Context, u, repoHost string, creds *Credentials, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", redactURL(u), err)
	}
	creds.authorize(req, repoHost)
	client := &http.Client{Transport: creds.transport()}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("GET %s: %s: %w (check spec.source.credentialsRef)", redactURL(u), resp.Status, ErrUnauthorized)
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("GET %s: %s: %w", redactURL(u), resp.Status, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", redactURL(u), resp.Status)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", redactURL(u), err)
	}
	if n > limit {
		return nil, fmt.Errorf("GET %s: larger than %d MiB: refused", redactURL(u), limit>>20)
	}
	return buf.Bytes(), nil
}

// unwrapURLError drops net/http's quoting of the whole URL, userinfo included, from err.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
