package charts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	"github.com/ferry-gitops/ferry/pkg/gitops/egress"
)

// Media types of a Helm chart in an OCI registry (Helm's registry package).
const (
	chartLayerMediaType       = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
	legacyChartLayerMediaType = "application/tar+gzip"
	// maxManifestBytes bounds a chart's manifest, a few hundred bytes in practice.
	maxManifestBytes = 4 << 20
)

// ociRepository opens the registry repository of ref's chart (oci://host/path + /chart) with the
// Secret's credentials only: never Docker's or Helm's config of the server's environment.
func (c *Cache) ociRepository(ref Ref, creds *Credentials) (*remote.Repository, error) {
	name := strings.TrimSuffix(strings.TrimPrefix(ref.RepoURL, "oci://"), "/") + "/" + ref.Chart
	r, err := remote.NewRepository(name)
	if err != nil {
		return nil, fmt.Errorf("%s: not an OCI repository reference: %v", ref, err)
	}
	client := &auth.Client{Client: &http.Client{Transport: creds.transport(c.opts.Egress), Timeout: c.opts.Timeout}, Cache: auth.NewCache()}
	client.SetUserAgent("ferry")
	if creds != nil {
		var cred auth.Credential
		switch {
		case creds.BearerToken != "":
			cred.AccessToken = creds.BearerToken
		case creds.Password != "":
			cred.Username, cred.Password = creds.Username, creds.Password
		}
		if cred != auth.EmptyCredential {
			client.Credential = auth.StaticCredential(r.Reference.Registry, cred)
		}
	}
	r.Client = client
	return r, nil
}

// listTags lists the chart's tags that are versions, highest first.
func (c *Cache) listTags(ctx context.Context, ref Ref, creds *Credentials) ([]string, error) {
	r, err := c.ociRepository(ref, creds)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var versions []*semver.Version
	err = r.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			// OCI tags cannot hold '+': Helm writes build metadata with '_'.
			if v, err := semver.StrictNewVersion(strings.ReplaceAll(t, "_", "+")); err == nil {
				versions = append(versions, v)
			}
			if len(versions) > 100000 {
				return errors.New("more than 100,000 tags")
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the tags of %s: %w", ref, ociError(err))
	}
	sort.Sort(sort.Reverse(semver.Collection(versions)))
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v.Original()
	}
	return out, nil
}

// pickTag chooses the highest version of tags that constraint names.
func pickTag(tags []string, ref Ref, constraint string) (string, error) {
	if len(tags) == 0 {
		return "", fmt.Errorf("%s has no tag that is a chart version: %w", ref, ErrNotFound)
	}
	for _, t := range tags {
		if t == constraint {
			return t, nil
		}
	}
	want, err := parseConstraint(constraint)
	if err != nil {
		return "", err
	}
	for _, t := range tags {
		if v, err := semver.NewVersion(t); err == nil && want.Check(v) {
			return t, nil
		}
	}
	return "", fmt.Errorf("%s has no version matching %q (newest: %s): %w", ref, orNewest(constraint), tags[0], ErrNotFound)
}

// pullOCI downloads the chart layer of a version from the registry, checked against its digest.
func (c *Cache) pullOCI(ctx context.Context, ref Ref, version string, creds *Credentials) ([]byte, error) {
	r, err := c.ociRepository(ref, creds)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	tag := strings.ReplaceAll(version, "+", "_")
	desc, err := r.Resolve(ctx, tag)
	if err != nil {
		return nil, fmt.Errorf("%s version %s: %w", ref, version, ociError(err))
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("%s version %s is a %s, not a Helm chart's image manifest", ref, version, desc.MediaType)
	}
	manifestBytes, err := fetchAll(ctx, r, desc, maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("%s version %s: reading its manifest: %w", ref, version, err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(manifestBytes, &manifest); err != nil {
		return nil, fmt.Errorf("%s version %s: its manifest: %v", ref, version, err)
	}
	for _, layer := range manifest.Layers {
		if layer.MediaType != chartLayerMediaType && layer.MediaType != legacyChartLayerMediaType {
			continue
		}
		data, err := fetchAll(ctx, r, layer, c.opts.MaxArchiveBytes)
		if err != nil {
			return nil, fmt.Errorf("%s version %s: reading the chart: %w", ref, version, err)
		}
		return data, nil
	}
	return nil, fmt.Errorf("%s version %s has no Helm chart layer (%s)", ref, version, chartLayerMediaType)
}

// fetchAll reads a blob or manifest of at most limit bytes and checks it against its digest.
func fetchAll(ctx context.Context, r *remote.Repository, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	if desc.Size > limit {
		return nil, fmt.Errorf("%d bytes, over the limit of %d MiB: refused", desc.Size, limit>>20)
	}
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		return nil, ociError(err)
	}
	defer rc.Close()
	return content.ReadAll(rc, desc)
}

// ociError says what a registry's refusal means for the user, without quoting its response.
func ociError(err error) error {
	var resp *errcode.ErrorResponse
	switch {
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("the registry asks for a username and password: %w (set spec.source.credentialsRef)", ErrUnauthorized)
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%w in the registry", ErrNotFound)
	case errors.As(err, &resp):
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: %w (check spec.source.credentialsRef)", http.StatusText(resp.StatusCode), ErrUnauthorized)
		case http.StatusNotFound:
			return fmt.Errorf("%w in the registry", ErrNotFound)
		}
		return fmt.Errorf("the registry answered HTTP %d", resp.StatusCode)
	}
	// A network failure (the policy's refusal included), told without the URL.
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) || sentinel(err) != nil {
		return &fetchError{msg: egress.Describe(err), err: sentinel(err)}
	}
	return err
}
