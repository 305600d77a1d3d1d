package charts_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/gitops/charts"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts/charttest"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// podinfo is a chart shaped like a real one: values, helpers, a Deployment and a Service.
var podinfo = map[string]string{
	"Chart.yaml":             "apiVersion: v2\nname: podinfo\nversion: 0.1.0\nappVersion: \"6.7\"\n",
	"values.yaml":            "replicaCount: 2\nimage: {repository: ghcr.io/stefanprodan/podinfo, tag: \"6.7.0\"}\nservice: {port: 9898}\n",
	"templates/_helpers.tpl": `{{- define "podinfo.fullname" -}}{{ .Release.Name }}-podinfo{{- end -}}`,
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ include "podinfo.fullname" . }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: podinfo}}
  template:
    metadata: {labels: {app: podinfo}}
    spec: {containers: [{name: podinfo, image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"}]}
`,
	"templates/service.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: {{ include \"podinfo.fullname\" . }}}\nspec: {ports: [{port: {{ .Values.service.port }}}]}\n",
}

func chartVersion(t *testing.T, files []source.File) string {
	t.Helper()
	for _, f := range files {
		if f.Path == "Chart.yaml" {
			for _, line := range strings.Split(string(f.Data), "\n") {
				if v, ok := strings.CutPrefix(line, "version: "); ok {
					return v
				}
			}
		}
	}
	t.Fatalf("no Chart.yaml version in %d files", len(files))
	return ""
}

func secretCreds(t *testing.T, c *charts.Cache, data map[string]string) *charts.Credentials {
	t.Helper()
	raw := map[string][]byte{}
	for k, v := range data {
		raw[k] = []byte(v)
	}
	creds, err := charts.CredentialsFromSecretData(raw, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// TestAHelmRepositoryResolvesRangesAndDownloadsEachVersionOnce: versions and ranges resolve
// against the index as Helm resolves them (the newest stable by default), a missing chart or
// version is ErrNotFound naming what exists, many Applications share one index download and one
// archive download per version, and a caller that must see a new version gets a fresh index.
func TestAHelmRepositoryResolvesRangesAndDownloadsEachVersionOnce(t *testing.T) {
	repo := charttest.NewRepo(t, "", "")
	for _, v := range []string{"0.1.0", "0.1.1", "0.2.0", "1.0.0-rc.1"} {
		repo.Publish(t, charttest.WithVersion(podinfo, v))
	}
	c := charts.New(charts.Options{ListingMaxAge: time.Hour})
	ref := charts.Ref{RepoURL: repo.URL, Chart: "podinfo"}
	ctx := context.Background()
	for constraint, want := range map[string]string{"": "0.2.0", "HEAD": "0.2.0", "~0.1": "0.1.1", "0.1.0": "0.1.0", ">=0.1 <0.2": "0.1.1", "1.0.0-rc.1": "1.0.0-rc.1", ">=1.0.0-0": "1.0.0-rc.1"} {
		got, err := c.Resolve(ctx, ref, constraint, nil)
		if err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", constraint, got, err, want)
		}
	}
	if _, err := c.Resolve(ctx, ref, ">=2", nil); !errors.Is(err, charts.ErrNotFound) || !strings.Contains(err.Error(), "newest: 1.0.0-rc.1") {
		t.Errorf("a range nothing matches: %v, want ErrNotFound naming the newest version", err)
	}
	if _, err := c.Resolve(ctx, charts.Ref{RepoURL: repo.URL, Chart: "nginx"}, "", nil); !errors.Is(err, charts.ErrNotFound) || !strings.Contains(err.Error(), `no chart "nginx"`) {
		t.Errorf("a chart the index lacks: %v", err)
	}
	if n := repo.IndexDownloads(); n != 1 {
		t.Errorf("%d index downloads for one repository, want 1", n)
	}

	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			files, err := c.Fetch(ctx, ref, "0.1.1", nil)
			if err != nil {
				t.Error(err)
				return
			}
			if v := chartVersion(t, files); v != "0.1.1" {
				t.Errorf("Fetch(0.1.1) gave version %s", v)
			}
		}()
	}
	wg.Wait()
	if n := repo.Downloads("podinfo"); n != 1 {
		t.Errorf("20 fetches of one version downloaded it %d times, want 1", n)
	}

	// A new version is seen by a caller that asks for a listing newer than its own start.
	repo.Publish(t, charttest.WithVersion(podinfo, "0.3.0"))
	if got, _ := c.Resolve(ctx, ref, "", nil); got != "0.2.0" {
		t.Errorf("within ListingMaxAge the cached index answers: got %s", got)
	}
	if got, err := c.Resolve(source.WithNotBefore(ctx, time.Now()), ref, "", nil); got != "0.3.0" {
		t.Errorf("WithNotBefore(now): %q, %v; want the new 0.3.0", got, err)
	}

	// An archive that no longer matches the index's digest is refused.
	repo.Replace(t, charttest.WithVersion(map[string]string{"Chart.yaml": podinfo["Chart.yaml"], "templates/x.yaml": "kind: ConfigMap"}, "0.2.0"))
	if _, err := c.Fetch(ctx, ref, "0.2.0", nil); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("an archive changed after indexing: %v, want a digest mismatch", err)
	}
}

// TestPrivateRepositoriesNeedTheSecretsCredentials: a Helm repository and an OCI registry behind
// basic auth refuse a caller without credentials (ErrUnauthorized, saying where to look), and
// serve one with them; the registry's certificate is trusted through the Secret's ca.crt only.
func TestPrivateRepositoriesNeedTheSecretsCredentials(t *testing.T) {
	ctx := context.Background()
	repo := charttest.NewRepo(t, "ci", "s3cret")
	repo.Publish(t, podinfo)
	reg := charttest.NewRegistry(t, "ci", "s3cret")
	reg.Push(t, podinfo)
	reg.Push(t, charttest.WithVersion(podinfo, "0.2.0+build.7"))
	c := charts.New(charts.Options{})

	httpRef := charts.Ref{RepoURL: repo.URL, Chart: "podinfo"}
	if _, err := c.Resolve(ctx, httpRef, "", nil); !errors.Is(err, charts.ErrUnauthorized) || !strings.Contains(err.Error(), "credentialsRef") {
		t.Errorf("no credentials: %v, want ErrUnauthorized naming credentialsRef", err)
	}
	if _, err := c.Resolve(ctx, httpRef, "", secretCreds(t, c, map[string]string{"username": "ci", "password": "wrong"})); !errors.Is(err, charts.ErrUnauthorized) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("a wrong password: %v, want ErrUnauthorized not quoting it", err)
	}
	good := secretCreds(t, c, map[string]string{"username": "ci", "password": "s3cret"})
	if v, err := c.Resolve(ctx, httpRef, "", good); err != nil || v != "0.1.0" {
		t.Errorf("with credentials: %q, %v", v, err)
	}
	if files, err := c.Fetch(ctx, httpRef, "0.1.0", good); err != nil || chartVersion(t, files) != "0.1.0" {
		t.Errorf("fetching with credentials: %v", err)
	}

	ociRef := charts.Ref{RepoURL: reg.URL, Chart: "podinfo"}
	if _, err := c.Resolve(ctx, ociRef, "", secretCreds(t, c, map[string]string{"username": "ci", "password": "s3cret"})); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a registry whose CA the Secret lacks: %v, want a certificate error", err)
	}
	if _, err := c.Resolve(ctx, ociRef, "", secretCreds(t, c, map[string]string{"ca.crt": string(reg.CA)})); !errors.Is(err, charts.ErrUnauthorized) {
		t.Errorf("the registry's CA but no password: %v, want ErrUnauthorized", err)
	}
	ociCreds := secretCreds(t, c, map[string]string{"username": "ci", "password": "s3cret", "ca.crt": string(reg.CA)})
	v, err := c.Resolve(ctx, ociRef, "~0.2", ociCreds)
	if err != nil || v != "0.2.0+build.7" {
		t.Fatalf("Resolve(~0.2) in the registry: %q, %v; want 0.2.0+build.7 (tagged 0.2.0_build.7)", v, err)
	}
	for i := 0; i < 3; i++ {
		files, err := c.Fetch(ctx, ociRef, v, ociCreds)
		if err != nil {
			t.Fatal(err)
		}
		if got := chartVersion(t, files); got != "0.2.0+build.7" {
			t.Errorf("pulled version %s", got)
		}
	}
	if n := reg.BlobDownloads("podinfo"); n != 1 {
		t.Errorf("3 fetches pulled %d blobs, want the chart layer once", n)
	}
	if _, err := c.Resolve(ctx, charts.Ref{RepoURL: reg.URL, Chart: "absent"}, "", ociCreds); !errors.Is(err, charts.ErrNotFound) {
		t.Errorf("a chart the registry lacks: %v, want ErrNotFound", err)
	}
}

// TestCredentialsFromSecretData: a Secret must hold something usable, and its errors name keys,
// never values.
func TestCredentialsFromSecretData(t *testing.T) {
	for name, data := range map[string]map[string][]byte{
		"empty":          {},
		"only username":  {"username": []byte("ci")},
		"cert, no key":   {"tls.crt": []byte("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n")},
		"ca not PEM":     {"ca.crt": []byte("hunter2")},
		"key not a pair": {"tls.crt": []byte("hunter2"), "tls.key": []byte("hunter2")},
	} {
		_, err := charts.CredentialsFromSecretData(data, []byte("k"))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "bm90") {
			t.Errorf("%s: the error quotes the Secret: %v", name, err)
		}
	}
}
