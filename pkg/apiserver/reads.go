package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/diff"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/recovery"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

// retryAfterSeconds is what a read that ran out of time tells the client to wait.
const retryAfterSeconds = 5

// healthReader judges live objects in the target cluster with Ferry's identity; nil without one.
func (c completedConfig) healthReader() application.HealthReader {
	if c.ExtraConfig.engine == nil {
		return nil
	}
	eng := c.ExtraConfig.engine
	return func(ctx context.Context, ref apply.ObjectRef) (h health.Status) {
		err := recovery.Guard(ctx, recovery.Read, func() error {
			h = eng.LiveHealth(ctx, ref)
			return nil
		})
		if err != nil {
			return health.Status{Code: v1alpha1.HealthUnknown, Message: err.Error()}
		}
		return h
	}
}

// manifestsRenderer renders an Application with the shared engine, turning the engine's
// failures into API errors that say what went wrong; nil without a target cluster.
func (c completedConfig) manifestsRenderer() application.ManifestsRenderer {
	eng := c.ExtraConfig.engine
	if eng == nil {
		return nil
	}
	return func(ctx context.Context, app *gitops.Application, revision string) (string, []*unstructured.Unstructured, error) {
		_, sha, objs, err := c.renderAt(ctx, app, revision)
		return sha, objs, err
	}
}

// syncResourcesChecker refuses a selective sync whose spec.resources name objects the
// Application does not render at the requested revision, before anything is recorded; nil
// without a target cluster.
func (c completedConfig) syncResourcesChecker() application.SyncResourcesChecker {
	if c.ExtraConfig.engine == nil {
		return nil
	}
	return func(ctx context.Context, app *gitops.Application, revision string, resources []gitops.SyncResource) error {
		_, sha, objs, err := c.renderAt(ctx, app, revision)
		if err != nil {
			return err
		}
		versioned := make([]v1alpha1.SyncResource, len(resources))
		for i, r := range resources {
			versioned[i] = v1alpha1.SyncResource{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
		}
		_, unmatched := engine.SelectResources(objs, versioned)
		var errs field.ErrorList
		for _, i := range unmatched {
			errs = append(errs, field.Invalid(field.NewPath("spec", "resources").Index(i), engine.ResourceString(versioned[i]),
				fmt.Sprintf("names no object that revision %.12s of %s renders", sha, app.Spec.Source.Path)))
		}
		if len(errs) > 0 {
			return apierrors.NewInvalid(gitops.Kind("ApplicationSync"), app.Name, errs)
		}
		return nil
	}
}

// rendered is the result of one resolve and render of an Application.
type rendered struct {
	sha     string
	objects []*unstructured.Unstructured
}

// readTimeout is how long a read subresource waits for Git and rendering.
func (c completedConfig) readTimeout() time.Duration {
	if c.ExtraConfig.ReadTimeout > 0 {
		return c.ExtraConfig.ReadTimeout
	}
	return c.GenericConfig.RequestTimeout * 3 / 4
}

// renderAt resolves and renders an Application at a revision with the engine, which works on
// the versioned type, and turns its failures into API errors.
//
// Git may be slow. The request waits at most readTimeout and then answers 504 with a
// Retry-After, well within the request timeout, while the resolve and render go on detached from
// the request (each Git round trip still bounded by --git-timeout): the retry finds the commit
// in the cache instead of starting over. Concurrent reads of the same Application at the same
// revision share one resolve.
func (c completedConfig) renderAt(ctx context.Context, app *gitops.Application, revision string) (*v1alpha1.Application, string, []*unstructured.Unstructured, error) {
	eng := c.ExtraConfig.engine
	versioned := &v1alpha1.Application{}
	if err := Scheme.Convert(app, versioned, nil); err != nil {
		return nil, "", nil, apierrors.NewInternalError(err)
	}
	key := app.Namespace + "/" + app.Name + "@" + app.ResourceVersion + "?" + revision
	// A user asking after a push sees the push: no ref listing from before the request.
	background := source.WithNotBefore(context.WithoutCancel(ctx), time.Now())
	flight := c.ExtraConfig.reads.DoChan(key, func() (any, error) {
		sha, err := eng.Resolve(background, versioned, revision)
		if err != nil {
			return nil, err
		}
		objs, err := eng.Render(background, versioned, sha)
		if err != nil {
			return nil, err
		}
		return rendered{sha: sha, objects: objs}, nil
	})
	timeout := c.readTimeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case res := <-flight:
		if res.Err != nil {
			return nil, "", nil, engineError(res.Err)
		}
		// The readers of one flight share its result; each masks and diffs its own copy.
		r := res.Val.(rendered)
		objs := make([]*unstructured.Unstructured, len(r.objects))
		for i, o := range r.objects {
			objs[i] = o.DeepCopy()
		}
		return versioned, r.sha, objs, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	rev := revision
	if rev == "" {
		rev = versioned.Spec.Source.Revision
	}
	return nil, "", nil, apierrors.NewTimeoutError(fmt.Sprintf(
		"reading revision %q of %s is taking longer than %s (a slow or unreachable Git server); Ferry goes on fetching in the background, retry in a few seconds",
		rev, versioned.Spec.Source.RepoURL, timeout.Round(time.Millisecond)), retryAfterSeconds)
}

// differ compares an Application with the cluster through the shared engine: a server-side
// apply dry run as the Application's identity for every object Git holds, and Delete entries for
// the inventory objects a prune would remove. Nil without a target cluster.
func (c completedConfig) differ() application.Differ {
	eng := c.ExtraConfig.engine
	if eng == nil {
		return nil
	}
	return func(ctx context.Context, app *gitops.Application, revision string) (sha string, items []gitops.ResourceDiff, err error) {
		// A panic while comparing one Application is a 500 for this request, not a crash.
		err = recovery.Guard(ctx, recovery.Read, func() error {
			sha, items, err = c.diffApplication(ctx, app, revision)
			return err
		})
		if recovery.IsPanic(err) {
			err = apierrors.NewInternalError(err)
		}
		return sha, items, err
	}
}

// diffApplication is the differ's work for one request: the engine's comparison, with the
// objects, as the API's items.
func (c completedConfig) diffApplication(ctx context.Context, app *gitops.Application, revision string) (string, []gitops.ResourceDiff, error) {
	versioned, sha, desired, err := c.renderAt(ctx, app, revision)
	if err != nil {
		return "", nil, err
	}
	cmp, err := c.ExtraConfig.engine.Compare(ctx, versioned, desired, true)
	if err != nil {
		return "", nil, apierrors.NewInvalid(gitops.Kind("ApplicationDiff"), app.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "source"), sha, "the server refused the dry run: "+err.Error())})
	}
	var items []gitops.ResourceDiff
	for _, r := range cmp.Results {
		item := resourceDiff(r.Ref, gitops.DiffNone)
		switch r.Action {
		case apply.Created:
			item.Action = gitops.DiffCreate
		case apply.Configured:
			item.Action = gitops.DiffUpdate
		}
		if item.Action != gitops.DiffNone {
			if item.Diff, err = diff.Unified(r.Live, r.Desired); err != nil {
				return "", nil, apierrors.NewInternalError(err)
			}
		}
		items = append(items, item)
	}
	for _, live := range cmp.Prunable {
		item := resourceDiff(apply.RefOf(live), gitops.DiffDelete)
		if item.Diff, err = diff.Unified(live, nil); err != nil {
			return "", nil, apierrors.NewInternalError(err)
		}
		items = append(items, item)
	}
	return sha, items, nil
}

func resourceDiff(ref apply.ObjectRef, action gitops.DiffAction) gitops.ResourceDiff {
	return gitops.ResourceDiff{Group: ref.Group, Version: ref.Version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Action: action}
}

// engineError maps a pipeline failure to an HTTP status: Git trouble is the server's (503), a
// revision that does not exist is the caller's (404), a render failure is the content's (422), a
// Git round trip that ran out of --git-timeout is a timeout (504).
func engineError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return apierrors.NewTimeoutError(err.Error()+"; retry later, or raise ferry-apiserver's --git-timeout", retryAfterSeconds)
	}
	var stage *engine.StageError
	if errors.As(err, &stage) {
		switch {
		case stage.Reason == v1alpha1.ReasonGitFailed && stage.Terminal:
			return apierrors.NewNotFound(gitops.Resource("revisions"), err.Error())
		case stage.Reason == v1alpha1.ReasonGitFailed || stage.Reason == v1alpha1.ReasonCredentialsError:
			return apierrors.NewServiceUnavailable(err.Error())
		case stage.Reason == v1alpha1.ReasonRenderFailed:
			return apierrors.NewInvalid(gitops.Kind("ApplicationManifests"), "", field.ErrorList{field.Invalid(field.NewPath("spec", "source", "path"), "", err.Error())})
		}
	}
	return apierrors.NewInternalError(err)
}
