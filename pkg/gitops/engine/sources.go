package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/decryption"
	"github.com/ferry-gitops/ferry/pkg/gitops/redact"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// SourceAt is one source of an Application and the field that holds it, for messages.
type SourceAt struct {
	*gitopsv1alpha1.ApplicationSource
	// Field is spec.source, or spec.sources[i].
	Field string
}

// Sources lists spec.source, or each source of spec.sources in order.
func Sources(app *gitopsv1alpha1.Application) []SourceAt {
	if len(app.Spec.Sources) == 0 {
		return []SourceAt{{&app.Spec.Source, "spec.source"}}
	}
	out := make([]SourceAt, len(app.Spec.Sources))
	for i := range app.Spec.Sources {
		out[i] = SourceAt{&app.Spec.Sources[i], fmt.Sprintf("spec.sources[%d]", i)}
	}
	return out
}

// SplitRevisions returns the revision of each source of app that revision names: one per
// source, separated by spaces, for spec.sources; "" means each source's spec revision.
func SplitRevisions(app *gitopsv1alpha1.Application, revision string) ([]string, error) {
	srcs := Sources(app)
	if revision == "" {
		revs := make([]string, len(srcs))
		for i, s := range srcs {
			revs[i] = s.Revision
		}
		return revs, nil
	}
	if len(app.Spec.Sources) == 0 {
		return []string{revision}, nil
	}
	revs := strings.Split(revision, gitopsv1alpha1.RevisionSeparator)
	if len(revs) != len(srcs) {
		return nil, &StageError{Reason: gitopsv1alpha1.ReasonGitFailed, Terminal: true, Err: fmt.Errorf(
			"revision %q names %d revisions, but spec.sources has %d sources: name one revision per source, in order, separated by spaces", revision, len(revs), len(srcs))}
	}
	return revs, nil
}

// JoinRevisions is the one revision of the revisions of spec.sources.
func JoinRevisions(revs []string) string { return strings.Join(revs, gitopsv1alpha1.RevisionSeparator) }

// refValueFiles are the $<ref>/ value files of a chart, read from the sources they name.
type refValueFiles struct {
	byName map[string][]byte // by the value file as spec names it: $values/envs/prod.yaml
	files  []source.File     // as read, decrypted, for redaction
}

// refValues reads the $<ref>/<path> value files of src from the sources with those refs, at
// their revisions, within the render's read budget, decrypted like the chart's own files.
func (e *Engine) refValues(src SourceAt, valueFiles []string, refs map[string]refSource, budget *readBudget, dec *decryption.Decryptor) (refValueFiles, error) {
	var out refValueFiles
	for i, vf := range valueFiles {
		name, p, ok := gitopsv1alpha1.RefValueFile(vf)
		if !ok {
			continue
		}
		field := fmt.Sprintf("%s.helm.valueFiles[%d]", src.Field, i)
		ref, found := refs[name]
		if !found {
			return out, &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Terminal: true, Err: fmt.Errorf("%s: no source of spec.sources has ref %q", field, name)}
		}
		dir := path.Dir(p)
		if dir == "." {
			dir = ""
		}
		files, err := budget.reader(ref.repoURL, ref.sha)(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return out, &StageError{Reason: gitopsv1alpha1.ReasonGitFailed, Terminal: errors.Is(err, source.ErrLimitExceeded), Err: fmt.Errorf("%s: reading %s of %s: %w", field, p, ref, err)}
		}
		var file []source.File
		for _, f := range files {
			if f.Path == p {
				file = append(file, f)
			}
		}
		if len(file) == 0 {
			return out, &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Terminal: true, Err: fmt.Errorf("%s: %s holds no file %s", field, ref, p)}
		}
		if file, err = dec.Files(file); err != nil {
			return out, &StageError{Reason: gitopsv1alpha1.ReasonDecryptionFailed, Err: fmt.Errorf("%s: %w", field, err)}
		}
		if out.byName == nil {
			out.byName = map[string][]byte{}
		}
		out.byName[vf] = file[0].Data
		out.files = append(out.files, file...)
	}
	return out, nil
}

// refsUsed are the sources whose files the value files of helm read, as repository@revision:
// part of a render's identity, so that a new commit of the values repository renders anew.
func refsUsed(helm *render.HelmOptions, refs map[string]refSource) map[string]string {
	var used map[string]string
	for _, vf := range helm.ValueFiles {
		if name, _, ok := gitopsv1alpha1.RefValueFile(vf); ok {
			if used == nil {
				used = map[string]string{}
			}
			used[name] = refs[name].String()
		}
	}
	return used
}

// redactStageError removes values from the message of err, keeping its classification.
func redactStageError(err error, values *redact.Values) error {
	var se *StageError
	if errors.As(err, &se) {
		return &StageError{Reason: se.Reason, Terminal: se.Terminal, Err: redact.Error(se.Err, values)}
	}
	return redact.Error(err, values)
}
