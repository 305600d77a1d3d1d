package application

import (
	"context"
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

// RetryAfterSeconds is what a read that ran out of time tells the client to wait.
const RetryAfterSeconds = 5

// EngineError maps a failure of the engine to an HTTP status for the read subresources: Git
// trouble and an unavailable destination cluster are the server's (503), a revision that does not exist is the caller's (404), a render
// failure is the content's (422), a Git round trip that ran out of --git-timeout is a timeout
// (504), a panic recovered in the engine is a 500.
func EngineError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeoutError(err.Error()+"; retry later, or raise ferry-apiserver's --git-timeout", RetryAfterSeconds)
	}
	var stage *engine.StageError
	if errors.As(err, &stage) {
		switch {
		case stage.Reason == v1alpha1.ReasonGitFailed && stage.Terminal:
			return apierrors.NewNotFound(gitops.Resource("revisions"), err.Error())
		case stage.Reason == v1alpha1.ReasonGitFailed || stage.Reason == v1alpha1.ReasonCredentialsError || stage.Reason == v1alpha1.ReasonClusterUnavailable:
			return apierrors.NewServiceUnavailable(err.Error())
		case stage.Reason == v1alpha1.ReasonRenderFailed:
			return apierrors.NewInvalid(gitops.Kind("ApplicationManifests"), "", field.ErrorList{field.Invalid(field.NewPath("spec", "source", "path"), "", err.Error())})
		}
	}
	return apierrors.NewInternalError(err)
}
