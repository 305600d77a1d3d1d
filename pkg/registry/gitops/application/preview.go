package application

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/recovery"
)

// PreviewRequest is what an ApplicationPreview asks of an Application, once authorised.
type PreviewRequest struct {
	// Revision to render (one per source, separated by spaces, for spec.sources).
	Revision string
	// RepoURL, when set, replaces the repository of the source at SourceIndex (a fork).
	RepoURL     string
	SourceIndex int
	// As is the person the comparison with the cluster runs as; nil runs it as the
	// Application's own identity (its ServiceAccount).
	As *rest.ImpersonationConfig
}

// PreviewResult is the answer: the commit rendered, the objects (Secret values masked) and
// what a sync would change.
type PreviewResult struct {
	Revision string
	Objects  []*unstructured.Unstructured
	Items    []gitops.ResourceDiff
	// ComparedAs is the username the comparison ran as.
	ComparedAs string
}

// Previewer answers an ApplicationPreview for app.
type Previewer func(ctx context.Context, app *gitops.Application, req PreviewRequest) (PreviewResult, error)

// Preview renders app at a revision, possibly from a fork, and compares it with the cluster as
// the person who asked (or as the Application's identity): the work of /manifests and /diff
// together, under the same budget, slots and render workers; a Previewer.
func (r *EngineReader) Preview(ctx context.Context, app *gitops.Application, req PreviewRequest) (res PreviewResult, err error) {
	err = recovery.Guard(ctx, recovery.Read, func() error {
		res, err = r.preview(ctx, app, req)
		return err
	})
	if recovery.IsPanic(err) {
		err = apierrors.NewInternalError(err)
	}
	return res, err
}

func (r *EngineReader) preview(ctx context.Context, app *gitops.Application, req PreviewRequest) (PreviewResult, error) {
	versioned, err := r.versioned(app)
	if err != nil {
		return PreviewResult{}, err
	}
	if req.RepoURL != "" {
		if err := forkOf(versioned, req.RepoURL, req.SourceIndex); err != nil {
			return PreviewResult{}, err
		}
	}
	sha, objs, err := r.renderVersioned(ctx, versioned, req.Revision)
	if err != nil {
		return PreviewResult{}, err
	}
	as, err := r.engine.ActorOf(versioned)
	comparedAs := r.engine.Identity(versioned)
	if err == nil && req.As != nil {
		as, err = r.engine.ActorAsUser(versioned, *req.As)
		comparedAs = req.As.UserName
	}
	if err != nil {
		return PreviewResult{}, EngineError(err)
	}
	cmp, err := r.compare(ctx, as, versioned, objs)
	if err != nil {
		if req.As != nil && apply.IsForbidden(err) {
			// The dry run ran as the person: what they may not do is theirs to ask for, not the
			// Application's ServiceAccount's.
			// The engine's advice is for an Application's ServiceAccount: tell the cluster's
			// refusal alone.
			var stage *engine.StageError
			if errors.As(err, &stage) && errors.Unwrap(stage.Err) != nil {
				err = errors.Unwrap(stage.Err)
			}
			return PreviewResult{}, apierrors.NewForbidden(gitops.Resource("applicationpreviews"), "", fmt.Errorf(
				"comparing %s/%s at %s with the cluster as user %q: %w; a preview compares as you, with your own permissions (spec.asServiceAccount compares as the Application's ServiceAccount, if you may impersonate it)",
				app.Namespace, app.Name, v1alpha1.ShortRevision(sha), req.As.UserName, err))
		}
		return PreviewResult{}, r.compareError(err, sha, gitops.Kind("ApplicationPreview"), "")
	}
	items, err := DiffItems(cmp)
	if err != nil {
		return PreviewResult{}, err
	}
	return PreviewResult{Revision: sha, Objects: objs, Items: items, ComparedAs: comparedAs}, nil
}

// forkOf points the source at index of app at repoURL. The source's credentials stay only when
// repoURL is the very URL they were written for: the Application's writer was allowed to send
// that Secret there, and nowhere else.
func forkOf(app *v1alpha1.Application, repoURL string, index int) error {
	srcs := engine.Sources(app)
	if index < 0 || index >= len(srcs) {
		return apierrors.NewBadRequest(fmt.Sprintf("spec.sourceIndex %d: the Application has %d source(s)", index, len(srcs)))
	}
	src := srcs[index].ApplicationSource
	if src.RepoURL != repoURL {
		src.CredentialsRef = nil
	}
	src.RepoURL = repoURL
	return nil
}
