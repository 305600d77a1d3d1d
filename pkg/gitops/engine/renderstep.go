package engine

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/charts"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
	"github.com/ferry-gitops/ferry/pkg/gitops/redact"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// renderOptions are the render's options as the Application's source asks for them: directory
// filters, the chart's values, kustomize's overrides. The callbacks that read and fetch are the
// render step's.
func renderOptions(src SourceAt, helm *render.HelmOptions, allowRemoteBases bool, builder render.Builder) render.Options {
	opts := render.Options{AllowRemoteBases: allowRemoteBases, Builder: builder, ChartDefaults: helm}
	if d := src.Directory; d != nil {
		opts.Directory = &render.DirectoryOptions{Recurse: d.Recurse, Include: d.Include, Exclude: d.Exclude}
	}
	if src.Helm != nil {
		opts.Helm = helm
	}
	if k := src.Kustomize; k != nil {
		ko := &render.KustomizeOptions{NamePrefix: k.NamePrefix, NameSuffix: k.NameSuffix, Images: k.Images, Components: k.Components}
		for _, p := range k.Patches {
			rp := render.Patch{Patch: p.Patch}
			if t := p.Target; t != nil {
				rp.Target = &render.Selector{Group: t.Group, Version: t.Version, Kind: t.Kind, Name: t.Name, Namespace: t.Namespace, LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
			}
			ko.Patches = append(ko.Patches, rp)
		}
		opts.Kustomize = ko
	}
	return opts
}

// renderStep is one render of one source at one commit. Its methods are the render's callbacks
// (remote bases, chart dependencies, reading and decrypting files), and it remembers what they
// met, so that classify can tell a failure by where it came from.
type renderStep struct {
	e          *Engine
	ctx        context.Context
	src        SourceAt
	budget     *readBudget
	dec        *decryption.Decryptor
	chartCreds *charts.Credentials

	// remote: the render read something that may change without the commit changing (a remote
	// base, a chart dependency's version range), so its result is not cached.
	remote bool
	// read is every file the render read, whose values an error must not repeat.
	read []source.File
	// remoteErr, depErr and decErr are why a remote base, a chart dependency or a file's
	// decryption failed.
	remoteErr, depErr, decErr error
}

// remoteTree fetches a remote base through the Git cache like the Application's repository: once,
// bounded in time and size, anonymously (never with the Application's credentials, which are for
// its own repository), within this render's read limits.
func (s *renderStep) remoteTree(repoURL, revision string) (render.TreeReader, error) {
	s.remote = true
	sha, err := s.e.cfg.Source.Resolve(s.ctx, repoURL, revision, nil)
	if err != nil {
		s.remoteErr = err
		return nil, err
	}
	return s.budget.reader(repoURL, sha), nil
}

// dependencies downloads a chart's dependencies not vendored in charts/ through the chart cache,
// with the Application's credentials only for its own chart repository's host.
func (s *renderStep) dependencies(dir string, files []source.File) ([]source.File, error) {
	from := ""
	if s.src.Chart != "" {
		from = s.src.RepoURL
	}
	deps, pinned, err := s.e.cfg.Charts.Dependencies(s.ctx, files, dir, from, s.chartCreds)
	// A range resolves anew each time, like a remote base's branch.
	s.remote = s.remote || !pinned
	s.depErr = err
	return deps, err
}

// reading reads a directory with reader, decrypting SOPS files as they are read.
func (s *renderStep) reading(reader render.TreeReader) render.TreeReader {
	return func(dir string) ([]source.File, error) {
		files, err := reader(dir)
		if err == nil {
			if files, err = s.dec.Files(files); err != nil {
				s.decErr = err
			}
		}
		s.read = append(s.read, files...)
		return files, err
	}
}

// classify turns the render's failure into a StageError by its cause, with every value the
// render read or decrypted redacted.
func (s *renderStep) classify(err error) error {
	values := redact.FromFiles(s.read).Add(s.dec.Values()...)
	if s.decErr != nil {
		// The file at fault, told as it is (not as the render's reading of a path). Fixing the
		// keys' Secret is enough: retried, like a credentials Secret.
		return &StageError{Reason: gitopsv1alpha1.ReasonDecryptionFailed, Err: redact.Error(s.decErr, values)}
	}
	err = redact.Error(err, values)
	if s.depErr != nil {
		// A dependency could not be downloaded: classified by its cause, told by the render.
		failed := chartError(s.depErr).(*StageError)
		failed.Err = err
		return failed
	}
	if s.remoteErr != nil {
		// A remote base could not be fetched: Git trouble, retried, unless its revision does
		// not exist.
		return &StageError{Reason: gitopsv1alpha1.ReasonGitFailed, Terminal: errors.Is(s.remoteErr, source.ErrRevisionNotFound), Err: err}
	}
	// kustomize quotes what it fails on, a malformed secretGenerator literal included.
	return &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Terminal: true, Err: err}
}

// renderUncached renders the Application's path at sha, and says whether it read something that
// may change without the commit (remote bases, dependency ranges). SOPS-encrypted files are
// decrypted with keys as they are read (refused without keys), and what they decrypt to may go
// only into the data and stringData of Secrets.
func (e *Engine) renderUncached(ctx context.Context, app *gitopsv1alpha1.Application, src SourceAt, sha string, helm *render.HelmOptions, keys *decryption.Keys, refs map[string]refSource) ([]*unstructured.Unstructured, bool, error) {
	s := &renderStep{e: e, ctx: ctx, src: src, budget: e.newReadBudget(), dec: decryption.NewDecryptor(keys)}
	opts := renderOptions(src, helm, e.cfg.AllowRemoteBases, e.cfg.Builder)
	if e.cfg.AllowRemoteBases {
		opts.Remote = s.remoteTree
	}
	if e.cfg.Charts != nil {
		if src.Chart != "" {
			var err error
			if s.chartCreds, err = e.chartCredentials(ctx, app, src); err != nil {
				return nil, false, err
			}
		}
		opts.Dependencies = s.dependencies
	}
	reader, dir := s.budget.reader(src.RepoURL, sha), src.Path
	if src.Chart != "" {
		// A chart of a repository: its files at the root, rendered as a chart whatever they hold.
		files, err := e.cfg.Charts.Fetch(ctx, chartRef(src), sha, s.chartCreds)
		if err != nil {
			return nil, false, chartError(err)
		}
		reader, dir, opts.Helm = render.FilesReader(files), "", helm
	}
	// $<ref>/ value files come from the other sources, read and decrypted like the chart's own.
	if opts.Helm != nil {
		refValues, err := e.refValues(src, opts.Helm.ValueFiles, refs, s.budget, s.dec)
		if err != nil {
			values := redact.FromFiles(refValues.files).Add(s.dec.Values()...)
			return nil, false, redactStageError(err, values)
		}
		if refValues.files != nil {
			withRefs := *opts.Helm
			withRefs.RefValues = refValues.byName
			opts.Helm = &withRefs
			s.read = append(s.read, refValues.files...)
		}
	}
	objs, err := e.cfg.Render(s.reading(reader), dir, opts)
	if err == nil {
		if err = s.dec.CheckConfined(objs); err != nil {
			s.decErr = err
		}
	}
	if err != nil {
		return nil, s.remote, s.classify(err)
	}
	return objs, s.remote, nil
}
