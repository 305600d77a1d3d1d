package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/flight"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/recovery"
)

// DefaultMaxConcurrentDiffs is how many comparisons with the cluster run at once unless
// --max-concurrent-diffs says otherwise. Each is a sequence of server-side dry runs, so a few
// dozen keep a cluster's API server busy; more only make every one of them slower.
const DefaultMaxConcurrentDiffs = 16

// DefaultMaxConcurrentReadRenders is how many renders for reads run at once unless
// ReadOptions.MaxConcurrentReadRenders says otherwise: enough for a few people reading at once,
// few enough that the controller's renders always find workers.
const DefaultMaxConcurrentReadRenders = 4

// ReadOptions bound the work the read subresources do in one replica.
type ReadOptions struct {
	// Timeout bounds how long GET .../diff and .../manifests wait for Git and rendering before
	// answering 504; the work stops with the request. It must be positive.
	Timeout time.Duration
	// MaxConcurrentDiffs bounds the comparisons with the cluster (GET .../diff) running at
	// once; zero means DefaultMaxConcurrentDiffs.
	MaxConcurrentDiffs int
	// MaxConcurrentReadRenders bounds the renders for GET .../diff and .../manifests running at
	// once, on the render workers the controller uses too; zero means
	// DefaultMaxConcurrentReadRenders.
	MaxConcurrentReadRenders int
}

// EngineReader answers the read subresources (/diff, /manifests, /health) and the selective
// sync check with the engine the controller uses. It is the read policy: each read is the
// request's work, bounded by the request's budget (504 past it), shared with concurrent reads
// of the same Application and revision, and shed with 429 when the render or comparison slots
// stay taken.
type EngineReader struct {
	engine *engine.Engine
	// convert turns the API server's internal Application into the versioned one the engine
	// works on.
	convert runtime.ObjectConvertor
	timeout time.Duration
	// flights share one resolve and render among concurrent reads of the same Application,
	// revision and resourceVersion, while any of them waits.
	flights flight.Group
	// diffSlots holds one token per comparison running; see acquireDiffSlot.
	diffSlots chan struct{}
	// renderSlots holds one token per render for a read running; see acquireReadRender.
	renderSlots chan struct{}
}

// NewEngineReader reads through eng, converting Applications with convert (the server's
// scheme).
func NewEngineReader(eng *engine.Engine, convert runtime.ObjectConvertor, opts ReadOptions) *EngineReader {
	diffs := opts.MaxConcurrentDiffs
	if diffs <= 0 {
		diffs = DefaultMaxConcurrentDiffs
	}
	renders := opts.MaxConcurrentReadRenders
	if renders <= 0 {
		renders = DefaultMaxConcurrentReadRenders
	}
	return &EngineReader{
		engine:      eng,
		convert:     convert,
		timeout:     opts.Timeout,
		diffSlots:   make(chan struct{}, diffs),
		renderSlots: make(chan struct{}, renders),
	}
}

// Health judges a live object in the target cluster as the Application's identity; a
// HealthReader.
func (r *EngineReader) Health(ctx context.Context, app *gitops.Application, ref apply.ObjectRef) (h health.Status) {
	err := recovery.Guard(ctx, recovery.Read, func() error {
		as, err := r.engine.ActorFor(app.Namespace, app.Spec.ServiceAccountName, app.Spec.Destination.Cluster)
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

// Manifests renders an Application at a revision, turning the engine's failures into API
// errors that say what went wrong; a ManifestsRenderer.
func (r *EngineReader) Manifests(ctx context.Context, app *gitops.Application, revision string) (string, []*unstructured.Unstructured, error) {
	_, sha, objs, err := r.renderAt(ctx, app, revision)
	return sha, objs, err
}

// CheckSyncResources refuses a selective sync whose spec.resources name objects the
// Application does not render at the requested revision, before anything is recorded; a
// SyncResourcesChecker.
func (r *EngineReader) CheckSyncResources(ctx context.Context, app *gitops.Application, revision string, resources []gitops.SyncResource) error {
	_, sha, objs, err := r.renderAt(ctx, app, revision)
	if err != nil {
		return err
	}
	versioned := make([]v1alpha1.SyncResource, len(resources))
	for i := range resources {
		if err := v1alpha1.Convert_gitops_SyncResource_To_v1alpha1_SyncResource(&resources[i], &versioned[i], nil); err != nil {
			return apierrors.NewInternalError(err)
		}
	}
	_, unmatched := engine.SelectResources(hooks.Resources(objs), versioned)
	var errs field.ErrorList
	for _, i := range unmatched {
		errs = append(errs, field.Invalid(field.NewPath("spec", "resources").Index(i), engine.ResourceString(versioned[i]),
			fmt.Sprintf("names no object that revision %s of %s renders", v1alpha1.ShortRevision(sha), gitops.PrimarySource(&app.Spec).Path)))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(gitops.Kind("ApplicationSync"), app.Name, errs)
	}
	return nil
}

// rendered is the result of one resolve and render of an Application.
type rendered struct {
	sha     string
	objects []*unstructured.Unstructured
}

// readBudget is how long a read subresource may still work on a request: the read timeout, and
// never past the request's own deadline (kubectl's --request-timeout, client-go's Timeout:
// ?timeout=) less a margin to answer in, so the client gets a 504 with Retry-After rather than
// its own timeout.
func (r *EngineReader) readBudget(ctx context.Context) time.Duration {
	budget := r.timeout
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
func (r *EngineReader) renderAt(ctx context.Context, app *gitops.Application, revision string) (*v1alpha1.Application, string, []*unstructured.Unstructured, error) {
	versioned, err := r.versioned(app)
	if err != nil {
		return nil, "", nil, err
	}
	sha, objs, err := r.renderVersioned(ctx, versioned, revision)
	if err != nil {
		return nil, "", nil, err
	}
	return versioned, sha, objs, nil
}

// versioned converts the API server's internal Application into the versioned one the engine
// works on.
func (r *EngineReader) versioned(app *gitops.Application) (*v1alpha1.Application, error) {
	versioned := &v1alpha1.Application{}
	if err := r.convert.Convert(app, versioned, nil); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return versioned, nil
}

// flightKey names one resolve and render that concurrent reads may share: the Application at
// its resourceVersion, the revision, and the repositories and credentials its sources read
// (which a preview of a fork changes).
func flightKey(app *v1alpha1.Application, revision string) string {
	var b strings.Builder
	b.WriteString(app.Namespace + "/" + app.Name + "@" + app.ResourceVersion + "?" + revision)
	for _, src := range engine.Sources(app) {
		b.WriteString("\x00" + src.RepoURL)
		if src.CredentialsRef != nil {
			b.WriteString("\x00" + src.CredentialsRef.Name)
		}
	}
	return b.String()
}

// renderVersioned is renderAt for an Application already converted, as a preview changes it.
func (r *EngineReader) renderVersioned(ctx context.Context, versioned *v1alpha1.Application, revision string) (string, []*unstructured.Unstructured, error) {
	key := flightKey(versioned, revision)
	budget := r.readBudget(ctx)
	readCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	// A user asking after a push sees the push: no ref listing from before the request.
	readCtx = source.WithNotBefore(readCtx, time.Now())
	slotWait := budget / 2
	res, err := r.flights.Do(readCtx, key, func(work context.Context) (any, error) {
		sha, err := r.engine.Resolve(work, versioned, revision)
		if err != nil {
			return nil, err
		}
		release, err := r.acquireReadRender(work, slotWait)
		if err != nil {
			return nil, err
		}
		defer release()
		objs, err := r.engine.Render(work, versioned, sha)
		if err != nil {
			return nil, err
		}
		return rendered{sha: sha, objects: objs}, nil
	})
	if err == nil {
		// The readers of one flight share its result; each masks and diffs its own copy.
		shared := res.(rendered)
		objs := make([]*unstructured.Unstructured, len(shared.objects))
		for i, o := range shared.objects {
			objs[i] = o.DeepCopy()
		}
		return shared.sha, objs, nil
	}
	if apierrors.IsTooManyRequests(err) {
		return "", nil, err
	}
	if readCtx.Err() == nil {
		return "", nil, EngineError(err)
	}
	return "", nil, readTimeoutError(versioned, revision, budget)
}

// readTimeoutError is the 504 of a read that ran out of its budget, naming what it was reading.
func readTimeoutError(app *v1alpha1.Application, revision string, budget time.Duration) error {
	revs, _ := engine.SplitRevisions(app, revision)
	var reading []string
	for i, src := range engine.Sources(app) {
		if i < len(revs) {
			reading = append(reading, fmt.Sprintf("revision %q of %s", revs[i], src.RepoURL))
		}
	}
	return apierrors.NewTimeoutError(fmt.Sprintf(
		"reading %s is taking longer than %s (a slow or unreachable Git server, or a long render); the read stopped with the request: retry later, or with a longer request timeout",
		strings.Join(reading, " and "), budget.Round(time.Millisecond)), RetryAfterSeconds)
}

// acquireReadRender waits for one of the MaxConcurrentReadRenders slots, at most wait, and
// otherwise answers 429 with a Retry-After. The render workers are shared with the controller:
// without a bound, a burst of reads at distinct revisions would queue renders ahead of every
// Application's sync. The slot is held by the render a flight shares, not by each reader.
func (r *EngineReader) acquireReadRender(ctx context.Context, wait time.Duration) (func(), error) {
	if release, err := takeSlot(ctx, r.renderSlots, wait); release != nil || err != nil {
		return release, err
	}
	return nil, apierrors.NewTooManyRequests(fmt.Sprintf(
		"%d renders for reads of /manifests and /diff are already running and none ended within %s (the render workers serve the controller first); retry in a few seconds",
		cap(r.renderSlots), wait.Round(time.Millisecond)), RetryAfterSeconds)
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

// Diff compares an Application with the cluster: a server-side apply dry run as the
// Application's identity for every object Git holds, and Delete entries for the inventory
// objects a prune would remove; a Differ.
func (r *EngineReader) Diff(ctx context.Context, app *gitops.Application, revision string) (sha string, items []gitops.ResourceDiff, err error) {
	// A panic while comparing one Application is a 500 for this request, not a crash.
	err = recovery.Guard(ctx, recovery.Read, func() error {
		sha, items, err = r.diffApplication(ctx, app, revision)
		return err
	})
	if recovery.IsPanic(err) {
		err = apierrors.NewInternalError(err)
	}
	return sha, items, err
}

// diffApplication is Diff's work for one request: the engine's comparison, with the objects, as
// the API's items.
func (r *EngineReader) diffApplication(ctx context.Context, app *gitops.Application, revision string) (string, []gitops.ResourceDiff, error) {
	versioned, sha, desired, err := r.renderAt(ctx, app, revision)
	if err != nil {
		return "", nil, err
	}
	as, err := r.engine.ActorOf(versioned)
	if err != nil {
		return "", nil, EngineError(err)
	}
	cmp, err := r.compare(ctx, as, versioned, desired)
	if err != nil {
		return "", nil, r.compareError(err, sha, gitops.Kind("ApplicationDiff"), app.Name)
	}
	items, err := DiffItems(cmp)
	if err != nil {
		return "", nil, err
	}
	return sha, items, nil
}

// compare compares desired with the cluster as the actor as, in one of the comparison slots
// and within the request's budget (504 past it).
func (r *EngineReader) compare(ctx context.Context, as engine.Actor, versioned *v1alpha1.Application, desired []*unstructured.Unstructured) (engine.Comparison, error) {
	release, err := r.acquireDiffSlot(ctx)
	if err != nil {
		return engine.Comparison{}, err
	}
	defer release()
	// Hooks are run by syncs, not kept: they are never OutOfSync. The dry runs stop in time for
	// a 504 within the request's deadline.
	budget := r.readBudget(ctx)
	cmpCtx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmp, err := r.engine.CompareAs(cmpCtx, as, versioned, hooks.Resources(desired), true)
	if err != nil && cmpCtx.Err() != nil && ctx.Err() == nil {
		return cmp, apierrors.NewTimeoutError(fmt.Sprintf(
			"comparing %d objects with the cluster is taking longer than %s (a busy cluster); retry in a few seconds", len(desired), budget.Round(time.Millisecond)),
			RetryAfterSeconds)
	}
	return cmp, err
}

// compareError turns a failed comparison into the API's answer: API errors (429, 504) as they
// are, an unavailable cluster as the engine says, and a dry run the cluster refused as a 422 of
// kind naming the revision.
func (r *EngineReader) compareError(err error, sha string, kind schema.GroupKind, name string) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	var stage *engine.StageError
	if errors.As(err, &stage) && stage.Reason == v1alpha1.ReasonClusterUnavailable {
		return EngineError(err)
	}
	return apierrors.NewInvalid(kind, name, field.ErrorList{field.Invalid(field.NewPath("spec", "source"), sha, "the server refused the dry run: "+err.Error())})
}

// acquireDiffSlot waits for one of the --max-concurrent-diffs comparison slots, at most half of
// the request's read budget, and otherwise answers 429 with a Retry-After. Under a burst of
// diffs the server answers the ones it can in time and sheds the rest at once, instead of
// running them all side by side until every one of them misses its deadline.
func (r *EngineReader) acquireDiffSlot(ctx context.Context) (func(), error) {
	wait := r.readBudget(ctx) / 2
	if release, _ := takeSlot(ctx, r.diffSlots, wait); release != nil {
		return release, nil
	}
	return nil, apierrors.NewTooManyRequests(fmt.Sprintf(
		"%d comparisons with the cluster are already running and none ended within %s; retry in a few seconds (ferry-apiserver's --max-concurrent-diffs sets how many run at once)",
		cap(r.diffSlots), wait.Round(time.Millisecond)), RetryAfterSeconds)
}
