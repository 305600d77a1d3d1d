package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/recovery"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/application"
)

// healthReader judges live objects in the target cluster as the Application's identity; nil
// without a target cluster.
func (c completedConfig) healthReader() application.HealthReader {
	if c.ExtraConfig.engine == nil {
		return nil
	}
	eng := c.ExtraConfig.engine
	return func(ctx context.Context, app *gitops.Application, ref apply.ObjectRef) (h health.Status) {
		err := recovery.Guard(ctx, recovery.Read, func() error {
			as, err := eng.ActorFor(app.Namespace, app.Spec.ServiceAccountName, app.Spec.Destination.Cluster)
			if err != nil {
				h = health.Status{Code: v1alpha1.HealthUnknown, Message: err.Error()}
				return nil
			}
			h = engine.LiveHealth(ctx, as, ref)
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
		for i := range resources {
			if err := v1alpha1.Convert_gitops_SyncResource_To_v1alpha1_SyncResource(&resources[i], &versioned[i], nil); err != nil {
				return apierrors.NewInternalError(err)
			}
		}
		_, unmatched := engine.SelectResources(engine.Resources(objs), versioned)
		var errs field.ErrorList
		for _, i := range unmatched {
			errs = append(errs, field.Invalid(field.NewPath("spec", "resources").Index(i), engine.ResourceString(versioned[i]),
				fmt.Sprintf("names no object that revision %s of %s renders", engine.ShortRevision(sha), gitops.PrimarySource(&app.Spec).Path)))
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

// readBudget is how long a read subresource may still work on a request: readTimeout, and never
// past the request's own deadline (kubectl's --request-timeout, client-go's Timeout: ?timeout=)
// less a margin to answer in, so the client gets a 504 with Retry-After rather than its own
// timeout.
func (c completedConfig) readBudget(ctx context.Context) time.Duration {
	budget := c.readTimeout()
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		left -= max(time.Second, left/10)
		budget = max(min(budget, left), 0)
	}
	return budget
}

// renderAt resolves and renders an Application at a revision with the engine, which works on
// the versioned type, and turns its failures into API errors.
//
// The work is the request's: it runs within the request's read budget (readBudget, the request's
// own deadline less a margin to answer in) and stops when the request ends, so that API Priority
// and Fairness, which bounds requests per user, bounds it too, and a client that gives up leaves
// nothing running. Git may be slow: past the budget the request answers 504 with a Retry-After.
// Concurrent reads of the same Application at the same revision share one resolve and render,
// which goes on while any of them waits (package flight).
func (c completedConfig) renderAt(ctx context.Context, app *gitops.Application, revision string) (*v1alpha1.Application, string, []*unstructured.Unstructured, error) {
	eng := c.ExtraConfig.engine
	versioned := &v1alpha1.Application{}
	if err := Scheme.Convert(app, versioned, nil); err != nil {
		return nil, "", nil, apierrors.NewInternalError(err)
	}
	key := app.Namespace + "/" + app.Name + "@" + app.ResourceVersion + "?" + revision
	budget := c.readBudget(ctx)
	readCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	// A user asking after a push sees the push: no ref listing from before the request.
	readCtx = source.WithNotBefore(readCtx, time.Now())
	slotWait := budget / 2
	res, err := c.ExtraConfig.reads.Do(readCtx, key, func(work context.Context) (any, error) {
		sha, err := eng.Resolve(work, versioned, revision)
		if err != nil {
			return nil, err
		}
		release, err := c.acquireReadRender(work, slotWait)
		if err != nil {
			return nil, err
		}
		defer release()
		objs, err := eng.Render(work, versioned, sha)
		if err != nil {
			return nil, err
		}
		return rendered{sha: sha, objects: objs}, nil
	})
	if err == nil {
		// The readers of one flight share its result; each masks and diffs its own copy.
		r := res.(rendered)
		objs := make([]*unstructured.Unstructured, len(r.objects))
		for i, o := range r.objects {
			objs[i] = o.DeepCopy()
		}
		return versioned, r.sha, objs, nil
	}
	if apierrors.IsTooManyRequests(err) {
		return nil, "", nil, err
	}
	if readCtx.Err() == nil {
		return nil, "", nil, application.EngineError(err)
	}
	revs, _ := engine.SplitRevisions(versioned, revision)
	var reading []string
	for i, src := range engine.Sources(versioned) {
		if i < len(revs) {
			reading = append(reading, fmt.Sprintf("revision %q of %s", revs[i], src.RepoURL))
		}
	}
	return nil, "", nil, apierrors.NewTimeoutError(fmt.Sprintf(
		"reading %s is taking longer than %s (a slow or unreachable Git server, or a long render); the read stopped with the request: retry later, or with a longer request timeout",
		strings.Join(reading, " and "), budget.Round(time.Millisecond)), application.RetryAfterSeconds)
}

// acquireReadRender waits for one of the MaxConcurrentReadRenders slots, at most wait, and
// otherwise answers 429 with a Retry-After. The render workers are shared with the controller:
// without a bound, a burst of reads at distinct revisions would queue renders ahead of every
// Application's sync. The slot is held by the render a flight shares, not by each reader.
func (c completedConfig) acquireReadRender(ctx context.Context, wait time.Duration) (func(), error) {
	slots := c.ExtraConfig.readRenders
	if slots == nil {
		return func() {}, nil // a configuration not made by Complete (tests): no bound
	}
	if release, err := takeSlot(ctx, slots, wait); release != nil || err != nil {
		return release, err
	}
	return nil, apierrors.NewTooManyRequests(fmt.Sprintf(
		"%d renders for reads of /manifests and /diff are already running and none ended within %s (the render workers serve the controller first); retry in a few seconds",
		cap(slots), wait.Round(time.Millisecond)), application.RetryAfterSeconds)
}

// takeSlot takes a place in slots, waiting at most wait for one to come free, and returns the
// function that gives it back; nil when none came free in time, with ctx's error when the wait
// ended because ctx did.
func takeSlot(ctx context.Context, slots chan struct{}, wait time.Duration) (release func(), err error) {
	release = func() { <-slots }
	select {
	case slots <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case slots <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	release, err := c.acquireDiffSlot(ctx)
	if err != nil {
		return "", nil, err
	}
	defer release()
	// Hooks are run by syncs, not kept: they are never OutOfSync. The dry runs stop in time for
	// a 504 within the request's deadline.
	budget := c.readBudget(ctx)
	cmpCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmp, err := c.ExtraConfig.engine.Compare(cmpCtx, versioned, engine.Resources(desired), true)
	if err != nil && cmpCtx.Err() != nil && ctx.Err() == nil {
		return "", nil, apierrors.NewTimeoutError(fmt.Sprintf(
			"comparing %d objects with the cluster is taking longer than %s (a busy cluster); retry in a few seconds", len(desired), budget.Round(time.Millisecond)),
			application.RetryAfterSeconds)
	}
	var stage *engine.StageError
	if errors.As(err, &stage) && stage.Reason == v1alpha1.ReasonClusterUnavailable {
		return "", nil, application.EngineError(err)
	}
	if err != nil {
		return "", nil, apierrors.NewInvalid(gitops.Kind("ApplicationDiff"), app.Name, field.ErrorList{field.Invalid(field.NewPath("spec", "source"), sha, "the server refused the dry run: "+err.Error())})
	}
	items, err := application.DiffItems(cmp)
	if err != nil {
		return "", nil, err
	}
	return sha, items, nil
}

// acquireDiffSlot waits for one of the --max-concurrent-diffs comparison slots, at most half of
// the request's read budget, and otherwise answers 429 with a Retry-After. Under a burst of
// diffs the server answers the ones it can in time and sheds the rest at once, instead of
// running them all side by side until every one of them misses its deadline.
func (c completedConfig) acquireDiffSlot(ctx context.Context) (func(), error) {
	slots := c.ExtraConfig.diffSlots
	wait := c.readBudget(ctx) / 2
	if release, _ := takeSlot(ctx, slots, wait); release != nil {
		return release, nil
	}
	return nil, apierrors.NewTooManyRequests(fmt.Sprintf(
		"%d comparisons with the cluster are already running and none ended within %s; retry in a few seconds (ferry-apiserver's --max-concurrent-diffs sets how many run at once)",
		cap(slots), wait.Round(time.Millisecond)), application.RetryAfterSeconds)
}
