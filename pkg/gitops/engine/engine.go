// Package engine ties source, render and apply together for one Application: resolve its
// revision, render what the revision holds at its path, and prepare the objects for apply. The
// controller and the API's read subresources both use it; it knows nothing of the API server.
package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/lru"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/redact"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/recovery"
	"github.com/ferry-gitops/ferry/pkg/tenancy"
)

// SecretReader reads a Secret's data in a namespace.
type SecretReader func(ctx context.Context, namespace, name string) (map[string][]byte, error)

// Config configures an Engine.
type Config struct {
	Source *source.Cache
	// Charts resolves and downloads charts of Helm repositories and OCI registries (spec.source
	// chart) and the dependencies charts lock; nil makes such Applications fail to resolve.
	Charts           *charts.Cache
	Applier          *apply.Applier
	Secrets          SecretReader
	AllowRemoteBases bool
	Limits           source.Limits
	// RenderCacheSize is how many rendered (commit, path, options) results are kept. Default 512.
	RenderCacheSize int
	// Render turns a repository path into objects; nil means render.RenderTree. Tests replace
	// it to make one Application's render misbehave.
	Render RenderFunc
	// Builder runs kustomize for Render; nil builds in this process (render.InProcess).
	Builder render.Builder
	// OnRender, when set, is told how long each Render took, cache hits included (metrics).
	OnRender func(time.Duration)
	// Tenancy says which ServiceAccount each Application acts as.
	Tenancy tenancy.Policy
	// Clusters gives the appliers of the registered clusters Applications name in
	// spec.destination.cluster; nil makes every such Application ClusterUnavailable.
	Clusters Clusters
}

// Clusters gives the applier of a registered cluster by name.
type Clusters interface {
	// Applier returns the applier writing to the named cluster, or an error saying why the
	// cluster cannot be used now (not registered, not Ready).
	Applier(name string) (*apply.Applier, error)
}

// RenderFunc renders dir of a repository read through a TreeReader, as render.RenderTree does.
type RenderFunc func(read render.TreeReader, dir string, opts render.Options) ([]*unstructured.Unstructured, error)

// Engine renders and prepares Applications.
type Engine struct {
	cfg    Config
	render *lru.Cache
}

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.RenderCacheSize == 0 {
		cfg.RenderCacheSize = 512
	}
	if cfg.Render == nil {
		cfg.Render = render.RenderTree
	}
	return &Engine{cfg: cfg, render: lru.New(cfg.RenderCacheSize)}
}

// Actor is who an Application's requests are made as, and where they go: its identity
// (Identity) through the applier of its destination cluster.
type Actor struct {
	Applier *apply.Applier
	// User is the impersonated username; empty is Ferry's own identity on that cluster.
	User string
}

// ActorOf returns the Actor of app: the applier of the cluster Ferry runs in, or of the Cluster
// spec.destination.cluster names. A cluster that cannot be used now is a ClusterUnavailable
// StageError naming it, retried until the cluster is back.
func (e *Engine) ActorOf(app *gitopsv1alpha1.Application) (Actor, error) {
	return e.ActorFor(app.Namespace, app.Spec.ServiceAccountName, app.Spec.Destination.Cluster)
}

// ActorFor is ActorOf for an Application of namespace that names serviceAccountName and
// cluster, for callers holding another version of it.
func (e *Engine) ActorFor(namespace, serviceAccountName, cluster string) (Actor, error) {
	user := e.cfg.Tenancy.User(namespace, serviceAccountName)
	if cluster == "" {
		return Actor{Applier: e.cfg.Applier, User: user}, nil
	}
	if e.cfg.Tenancy.ServiceAccount(namespace, serviceAccountName) == "" {
		// A privileged Application acts on another cluster with the Cluster's own credentials,
		// which a platform admin chose: the local admin ServiceAccount means nothing there.
		user = ""
	}
	if e.cfg.Clusters == nil {
		return Actor{}, &StageError{Reason: gitopsv1alpha1.ReasonClusterUnavailable, Err: fmt.Errorf("cluster %q of spec.destination.cluster: this server deploys to no other cluster", cluster)}
	}
	a, err := e.cfg.Clusters.Applier(cluster)
	if err != nil {
		return Actor{}, &StageError{Reason: gitopsv1alpha1.ReasonClusterUnavailable, Err: fmt.Errorf("cluster %q of spec.destination.cluster: %w", cluster, err)}
	}
	return Actor{Applier: a, User: user}, nil
}

// ActorAsUser is the Actor that makes the requests of a comparison for app as a person, imp
// (username, groups, extra), instead of as the Application's ServiceAccount: on app's
// destination cluster, through an applier of that cluster's credentials impersonating imp. It
// is never more than the person may do, whatever the Application may.
func (e *Engine) ActorAsUser(app *gitopsv1alpha1.Application, imp rest.ImpersonationConfig) (Actor, error) {
	as, err := e.ActorOf(app)
	if err != nil {
		return Actor{}, err
	}
	return Actor{Applier: as.Applier.Impersonating(imp)}, nil
}

// PruneAll deletes every object of app's inventory that it still tracks, on its destination
// cluster (the finalizer of a deleted Application).
func (e *Engine) PruneAll(ctx context.Context, app *gitopsv1alpha1.Application, inventory []apply.ObjectRef) ([]apply.Result, error) {
	as, err := e.ActorOf(app)
	if err != nil {
		return nil, err
	}
	return as.Applier.PruneAll(ctx, AppOf(app), as.User, inventory)
}

// StageError says which stage of the pipeline failed, so the controller can set the right
// condition reason and decide whether a retry can help.
type StageError struct {
	Reason string // one of the v1alpha1 Reason* constants
	// Terminal errors need a change by the user (a new commit, a spec change); retrying the same
	// input gives the same result.
	Terminal bool
	Err      error
}

func (e *StageError) Error() string { return e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// Source is the Git cache the engine reads through.
func (e *Engine) Source() *source.Cache { return e.cfg.Source }

// Charts returns the chart cache; nil when the engine reads no chart repository.
func (e *Engine) Charts() *charts.Cache { return e.cfg.Charts }

// Identity is the user every request for app acts as — apply, dry run, prune, createNamespace
// and the live reads of /diff and /health: a ServiceAccount of its own namespace, the one it
// names or the tenancy policy's default; in a privileged namespace, the policy's PrivilegedUser.
func (e *Engine) Identity(app *gitopsv1alpha1.Application) string {
	return e.cfg.Tenancy.User(app.Namespace, app.Spec.ServiceAccountName)
}

// AppOf is the apply identity of an Application.
func AppOf(app *gitopsv1alpha1.Application) apply.App {
	return apply.App{Namespace: app.Namespace, Name: app.Name}
}

// internalError reports a panic recovered at one of the engine's boundaries: a fault of Ferry,
// not of the input, so it is retried with backoff rather than waiting for a new commit.
func internalError(err error) error {
	if recovery.IsPanic(err) {
		return &StageError{Reason: gitopsv1alpha1.ReasonInternalError, Err: err}
	}
	return err
}

// Resolve returns the commit revision names in the Application's repository ("" means
// spec.source.revision). A panic on the way is an InternalError of this Application.
func (e *Engine) Resolve(ctx context.Context, app *gitopsv1alpha1.Application, revision string) (sha string, err error) {
	err = recovery.Guard(ctx, recovery.Resolve, func() error {
		sha, err = e.resolve(ctx, app, revision)
		return err
	})
	return sha, internalError(err)
}

func (e *Engine) resolve(ctx context.Context, app *gitopsv1alpha1.Application, revision string) (string, error) {
	revs, err := SplitRevisions(app, revision)
	if err != nil {
		return "", err
	}
	srcs := Sources(app)
	for i, src := range srcs {
		if revs[i], err = e.resolveSource(ctx, app, src, revs[i]); err != nil {
			return "", err
		}
	}
	return JoinRevisions(revs), nil
}

// resolveSource returns the commit, or chart version, revision names in src.
func (e *Engine) resolveSource(ctx context.Context, app *gitopsv1alpha1.Application, src SourceAt, revision string) (string, error) {
	if src.Chart != "" {
		return e.resolveChart(ctx, app, src, revision)
	}
	creds, err := e.credentials(ctx, app, src)
	if err != nil {
		return "", err
	}
	sha, err := e.cfg.Source.Resolve(ctx, src.RepoURL, revision, creds)
	if errors.Is(err, source.ErrCredentialsRequired) {
		return "", &StageError{Reason: gitopsv1alpha1.ReasonCredentialsError, Terminal: true, Err: err}
	}
	if err != nil {
		return "", &StageError{Reason: gitopsv1alpha1.ReasonGitFailed, Terminal: errors.Is(err, source.ErrRevisionNotFound), Err: err}
	}
	return sha, nil
}

// resolveChart resolves a version or range of the chart src names to a version.
func (e *Engine) resolveChart(ctx context.Context, app *gitopsv1alpha1.Application, src SourceAt, constraint string) (string, error) {
	if e.cfg.Charts == nil {
		return "", &StageError{Reason: gitopsv1alpha1.ReasonChartFailed, Terminal: true, Err: errors.New("this server reads no chart repository")}
	}
	creds, err := e.chartCredentials(ctx, app, src)
	if err != nil {
		return "", err
	}
	version, err := e.cfg.Charts.Resolve(ctx, chartRef(src), constraint, creds)
	if err != nil {
		return "", chartError(err)
	}
	return version, nil
}

// chartError classifies a chart repository's failure: refused credentials and a chart or
// version that does not exist need the user (terminal); the rest is retried.
func chartError(err error) error {
	switch {
	case errors.Is(err, charts.ErrUnauthorized):
		return &StageError{Reason: gitopsv1alpha1.ReasonCredentialsError, Terminal: true, Err: err}
	case errors.Is(err, charts.ErrNotFound), errors.Is(err, source.ErrLimitExceeded):
		return &StageError{Reason: gitopsv1alpha1.ReasonChartFailed, Terminal: true, Err: err}
	}
	return &StageError{Reason: gitopsv1alpha1.ReasonChartFailed, Err: err}
}

func chartRef(src SourceAt) charts.Ref {
	return charts.Ref{RepoURL: src.RepoURL, Chart: src.Chart}
}

// chartCredentials reads the credentialsRef of src as a chart repository's credentials.
func (e *Engine) chartCredentials(ctx context.Context, app *gitopsv1alpha1.Application, src SourceAt) (*charts.Credentials, error) {
	ref := src.CredentialsRef
	if ref == nil {
		return nil, nil
	}
	field := src.Field + ".credentialsRef"
	data, err := e.cfg.Secrets(ctx, app.Namespace, ref.Name)
	if err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonCredentialsError, Err: fmt.Errorf("reading Secret %s/%s of %s: %w", app.Namespace, ref.Name, field, err)}
	}
	creds, err := charts.CredentialsFromSecretData(data, e.cfg.Charts.Key)
	if err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonCredentialsError, Terminal: true, Err: fmt.Errorf("the Secret %s/%s of %s: %w", app.Namespace, ref.Name, field, err)}
	}
	if h := src.Helm; h != nil {
		creds.PassCredentials = h.PassCredentials
	}
	return creds, nil
}

// decryptionKeys reads the keys of spec.decryption's Secret; nil when the Application decrypts
// nothing. A Secret that is missing or holds no usable key is retried: fixing it is enough.
func (e *Engine) decryptionKeys(ctx context.Context, app *gitopsv1alpha1.Application) (*decryption.Keys, error) {
	d := app.Spec.Decryption
	if d == nil || d.SecretRef == nil {
		return nil, nil
	}
	data, err := e.cfg.Secrets(ctx, app.Namespace, d.SecretRef.Name)
	if err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonDecryptionFailed, Err: fmt.Errorf("reading Secret %s/%s of spec.decryption.secretRef: %w", app.Namespace, d.SecretRef.Name, err)}
	}
	keys, err := decryption.KeysFromSecret(data)
	if err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonDecryptionFailed, Err: fmt.Errorf("the Secret %s/%s of spec.decryption.secretRef: %w", app.Namespace, d.SecretRef.Name, err)}
	}
	return keys, nil
}

func (e *Engine) credentials(ctx context.Context, app *gitopsv1alpha1.Application, src SourceAt) (*source.Credentials, error) {
	ref := src.CredentialsRef
	if ref == nil {
		return nil, nil
	}
	return e.Credentials(ctx, app.Namespace, ref.Name, src.Field+".credentialsRef")
}

// Credentials reads the Git credentials of the Secret namespace/name, which field names.
func (e *Engine) Credentials(ctx context.Context, namespace, name, field string) (*source.Credentials, error) {
	data, err := e.cfg.Secrets(ctx, namespace, name)
	if err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonCredentialsError, Err: fmt.Errorf("reading Secret %s/%s of %s: %w", namespace, name, field, err)}
	}
	creds, err := source.CredentialsFromSecretData(data)
	if err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonCredentialsError, Terminal: true, Err: fmt.Errorf("the Secret %s/%s of %s: %w", namespace, name, field, err)}
	}
	return creds, nil
}

// Render returns the objects the Application's path holds at commit sha, prepared for apply:
// namespaces defaulted, tracking annotation and label set. Results are cached per commit, path
// and options; callers get their own copies. Whatever a repository holds, a panic while
// rendering it is an InternalError of this Application, never a crash of the server.
func (e *Engine) Render(ctx context.Context, app *gitopsv1alpha1.Application, sha string) (objs []*unstructured.Unstructured, err error) {
	if e.cfg.OnRender != nil {
		defer func(start time.Time) { e.cfg.OnRender(time.Since(start)) }(time.Now())
	}
	err = recovery.Guard(ctx, recovery.Render, func() error {
		objs, err = e.renderAndPrepare(ctx, app, sha)
		return err
	})
	return objs, internalError(err)
}

func (e *Engine) renderAndPrepare(ctx context.Context, app *gitopsv1alpha1.Application, sha string) ([]*unstructured.Unstructured, error) {
	as, err := e.ActorOf(app)
	if err != nil {
		return nil, err
	}
	// Charts see the destination cluster's version (.Capabilities.KubeVersion) unless
	// spec.source.helm.kubeVersion says otherwise; unreadable, Helm's default.
	kubeVersion, _ := as.Applier.ServerVersion()
	if !releaseVersion.MatchString(kubeVersion) {
		kubeVersion = "" // a development build's version, such as v0.0.0-master+$Format:%H$
	}
	keys, err := e.decryptionKeys(ctx, app)
	if err != nil {
		return nil, err
	}
	srcs := Sources(app)
	shas := strings.Split(sha, gitopsv1alpha1.RevisionSeparator)
	if len(shas) != len(srcs) {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonInternalError, Err: fmt.Errorf("revision %q does not name one revision for each of the %d sources", sha, len(srcs))}
	}
	// The sources that lend their files to value files, by ref, at their revisions.
	refs := map[string]refSource{}
	for i, src := range srcs {
		if src.Ref != "" {
			refs[src.Ref] = refSource{repoURL: src.RepoURL, sha: shas[i]}
		}
	}
	var objs []*unstructured.Unstructured
	var from []int // the source of each object
	for i, src := range srcs {
		if src.ValuesOnly() {
			continue
		}
		rendered, err := e.renderSource(ctx, app, src, shas[i], kubeVersion, keys, refs)
		if err != nil {
			return nil, err
		}
		objs = append(objs, rendered...)
		for range rendered {
			from = append(from, i)
		}
	}
	dest := app.Spec.Destination.Namespace
	if err := as.Applier.Prepare(ctx, AppOf(app), as.User, objs, dest); err != nil {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Err: redact.Error(err, redact.FromObjects(objs))}
	}
	if len(srcs) > 1 {
		if err := uniqueAcrossSources(objs, from, srcs); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// uniqueAcrossSources refuses an object that two sources both render: one of them would
// silently overwrite the other at every sync.
func uniqueAcrossSources(objs []*unstructured.Unstructured, from []int, srcs []SourceAt) error {
	first := map[apply.ObjectRef]int{}
	for i, o := range objs {
		if hooks.IsHook(o) {
			continue
		}
		ref := apply.RefOf(o)
		if j, ok := first[ref]; ok && j != from[i] {
			return &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Terminal: true, Err: fmt.Errorf(
				"%s is rendered by both %s and %s: each object must come from one source", ref, srcs[j].Field, srcs[from[i]].Field)}
		}
		first[ref] = from[i]
	}
	return nil
}

// refSource is a source of spec.sources with a ref, at the revision it resolved to.
type refSource struct{ repoURL, sha string }

func (r refSource) String() string { return r.repoURL + "@" + r.sha }

// renderSource renders one source at sha, from the render cache when it can.
func (e *Engine) renderSource(ctx context.Context, app *gitopsv1alpha1.Application, src SourceAt, sha, kubeVersion string, keys *decryption.Keys, refs map[string]refSource) ([]*unstructured.Unstructured, error) {
	helm := helmDefaults(app, src, kubeVersion)
	key, err := renderKey(src, sha, helm, e.cfg.AllowRemoteBases, keys, refs)
	if err != nil {
		return nil, err
	}
	if cached, ok := e.render.Get(key); ok {
		return copies(cached.([]*unstructured.Unstructured)), nil
	}
	objs, remote, err := e.renderUncached(ctx, app, src, sha, helm, keys, refs)
	if err != nil {
		return nil, err
	}
	// A remote base may name a branch, which moves without the Application's commit
	// changing: such a render is done again each time (its Git reads are cached).
	if !remote {
		e.render.Add(key, copies(objs))
	}
	return objs, nil
}

// readBudget is one set of read limits for everything a render reads from the Git cache: the
// Application's repository and its remote bases together.
type readBudget struct {
	e      *Engine
	limits source.Limits
	files  int
	bytes  int64
}

func (e *Engine) newReadBudget() *readBudget {
	return &readBudget{e: e, limits: e.cfg.Limits.WithDefaults()}
}

// reader reads the directories of one commit that a render asks for, from the Git cache.
func (b *readBudget) reader(repo, sha string) render.TreeReader {
	e, limits := b.e, b.limits
	return func(dir string) ([]source.File, error) {
		read, err := e.cfg.Source.ReadFiles(repo, sha, dir, limits)
		if err != nil {
			return nil, err
		}
		b.files += len(read)
		for _, f := range read {
			b.bytes += int64(len(f.Data))
		}
		if b.files > limits.MaxFiles {
			return nil, fmt.Errorf("the render reads more than %d files: %w", limits.MaxFiles, source.ErrLimitExceeded)
		}
		if b.bytes > limits.MaxTotalBytes {
			return nil, fmt.Errorf("the render reads more than %d MiB: %w", limits.MaxTotalBytes>>20, source.ErrLimitExceeded)
		}
		return read, nil
	}
}

// renderKey identifies a render: the source, its options, the sources lending it value files
// and the decryption keys (so that an Application without them never gets another's decrypted
// render, and a rotation renders anew).
func renderKey(src SourceAt, sha string, helm *render.HelmOptions, remote bool, keys *decryption.Keys, refs map[string]refSource) (string, error) {
	// A chart's render depends on the release name and namespace, which default to the
	// Application's: its options are those resolved for this Application.
	opts, err := json.Marshal(struct {
		D *gitopsv1alpha1.DirectorySource
		K *gitopsv1alpha1.KustomizeSource
		H *render.HelmOptions
		R bool
		S string            `json:",omitempty"`
		F map[string]string `json:",omitempty"`
	}{src.Directory, src.Kustomize, helm, remote, keysDigest(keys), refsUsed(helm, refs)})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(src.RepoURL+"\x00"+src.Chart+"\x00"+sha+"\x00"+src.Path+"\x00"), opts...))
	return hex.EncodeToString(sum[:]), nil
}

func keysDigest(keys *decryption.Keys) string {
	if keys == nil {
		return ""
	}
	return keys.Digest()
}

func copies(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// IgnoreRules converts spec.ignoreDifferences for apply.
func IgnoreRules(app *gitopsv1alpha1.Application) []apply.IgnoreRule {
	var rules []apply.IgnoreRule
	for _, d := range app.Spec.IgnoreDifferences {
		rules = append(rules, apply.IgnoreRule{Group: d.Group, Kind: d.Kind, Name: d.Name, Namespace: d.Namespace, JSONPointers: d.JSONPointers})
	}
	return rules
}

// releaseVersion is a Kubernetes release's version, which Helm can parse.
var releaseVersion = regexp.MustCompile(`^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$`)

// helmDefaults are the chart settings of a source of app: its helm, the release named after the
// Application, in its destination namespace, on a cluster of kubeVersion.
func helmDefaults(app *gitopsv1alpha1.Application, src SourceAt, kubeVersion string) *render.HelmOptions {
	o := &render.HelmOptions{ReleaseName: app.Name, Namespace: app.Spec.Destination.Namespace, KubeVersion: kubeVersion}
	if o.Namespace == "" {
		o.Namespace = app.Namespace
	}
	h := src.Helm
	if h == nil {
		return o
	}
	if h.ReleaseName != "" {
		o.ReleaseName = h.ReleaseName
	}
	if h.Namespace != "" {
		o.Namespace = h.Namespace
	}
	o.ValueFiles, o.SkipCRDs, o.APIVersions = h.ValueFiles, h.SkipCRDs, h.APIVersions
	if h.KubeVersion != "" {
		o.KubeVersion = h.KubeVersion
	}
	if h.Values != nil {
		o.Values = h.Values.Raw
	}
	for _, p := range h.Parameters {
		o.Parameters = append(o.Parameters, render.HelmParameter{Name: p.Name, Value: p.Value, ForceString: p.ForceString})
	}
	return o
}
