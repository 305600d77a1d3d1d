package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/health"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
	"github.com/ferry-gitops/ferry/pkg/gitops/redact"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/gitops/syncwindow"
)

// HealthFunc judges the live health of one managed object.
type HealthFunc func(ctx context.Context, ref apply.ObjectRef) health.Status

// SyncRequest is one sync of one Application.
type SyncRequest struct {
	App *gitopsv1alpha1.Application
	// Operation is the requested sync being run, nil when the sync policy alone decides.
	Operation *gitopsv1alpha1.Operation
	// Drifted says a managed object changed in the cluster since the last comparison.
	Drifted bool
	// Health judges a managed object, from a watch cache where the caller keeps one; nil reads
	// the object from the cluster.
	Health HealthFunc
	// Rendered, when set, is told the rendered objects before anything is applied (the
	// controller starts watches of their kinds then).
	Rendered func([]*unstructured.Unstructured)
	// Cached, when set, returns a managed object from the caller's watch cache, which spares
	// the cluster a read and a dry run of each existing object (apply.Options.Cached).
	Cached func(apply.ObjectRef) (*unstructured.Unstructured, bool)
	// Progress, when set, is told the steps of a sync in waves each time one starts, waits or
	// ends (the controller shows them in status.operation).
	Progress func([]gitopsv1alpha1.OperationStep)
	// Window is what the Application's SyncWindows say now: while Blocked, what the sync policy
	// would apply is only compared.
	Window syncwindow.Verdict
}

// Outcome is what one sync found and did; the controller makes status and Events of it.
type Outcome struct {
	Plan Plan
	// SourceRevision is the commit the revision resolved to; SyncedRevision the commit the
	// objects were last applied at (unchanged when nothing was applied).
	SourceRevision string
	SyncedRevision string
	SyncStatus     gitopsv1alpha1.SyncStatusCode
	Health         health.Status
	// Resources is the inventory: what Git holds, plus what left Git but was not pruned, each
	// with its sync state and live health.
	Resources []gitopsv1alpha1.ResourceStatus
	Applied   []apply.Result
	Pruned    []apply.Result
	// Synced says objects were applied (not a dry run, not a comparison).
	Synced bool
	// Selected are the objects a selective sync (Plan.Resources) applied; nil for a full sync.
	Selected []apply.ObjectRef
	// Shared are the objects of Git that another Application manages (apply.Shared results,
	// with their owner): never applied nor pruned by this one.
	Shared []apply.Result
	// Kept are the objects that left Git and are still in the cluster because nothing pruned
	// them (prune off, a dry run, a comparison or a selective sync); they keep the Application
	// OutOfSync.
	Kept []apply.ObjectRef
	// Steps are the sync waves the apply went through, when the objects name more than one.
	Steps []gitopsv1alpha1.OperationStep
	// outOfSync marks the objects a comparison after a selective sync found different.
	outOfSync map[string]bool
	// Err is the failure, a *StageError saying which stage and whether a retry can help.
	Err error
	// Rollback says what a rollback in force (status.rollback) did to this sync.
	Rollback RollbackState
}

// Sync resolves, renders and — as Decide plans it — applies and prunes or only compares one
// Application, and reports the outcome. A panic while resolving or rendering is an
// InternalError of the outcome; the caller guards the rest (the controller's sync boundary).
func (e *Engine) Sync(ctx context.Context, req SyncRequest) Outcome {
	app, op := req.App, req.Operation
	out := Outcome{SyncedRevision: app.Status.Sync.Revision, SyncStatus: app.Status.Sync.Status, Resources: app.Status.Resources}
	as, err := e.ActorOf(app)
	if err != nil {
		return unreachable(app, out, err)
	}
	if req.Health == nil {
		req.Health = HealthAs(as)
	}
	revision := ""
	if op != nil {
		revision = op.Revision
	}
	ctx = freshEnough(ctx, app, op)
	sha, err := e.Resolve(ctx, app, revision)
	if err != nil {
		out.Err = err
		out.SourceRevision = app.Status.SourceRevision
		out.Resources, out.Health = InventoryHealth(ctx, app.Status.Resources, req.Health)
		return out.finish()
	}
	sha = out.holdRollback(app, op, sha)
	out.SourceRevision = sha
	rendered, err := e.Render(ctx, app, sha)
	if err != nil {
		out.Err = err
		out.Resources, out.Health = InventoryHealth(ctx, app.Status.Resources, req.Health)
		return out.finish()
	}
	// Hooks are run by a sync, not kept: they are no part of what is compared or pruned.
	desired, hookList, err := hooks.Split(rendered)
	if err != nil {
		out.Err = &StageError{Reason: gitopsv1alpha1.ReasonRenderFailed, Terminal: true, Err: err}
		out.Resources, out.Health = InventoryHealth(ctx, app.Status.Resources, req.Health)
		return out.finish()
	}
	if req.Rendered != nil {
		req.Rendered(desired)
	}

	out.Plan = holdForWindow(Decide(app, op, sha, req.Drifted), op, req.Window)
	previous := InventoryRefs(app.Status.Resources)
	switch out.Plan.Action {
	case ActionApply:
		e.apply(ctx, req, as, desired, hookList, previous, &out)
	case ActionCompare:
		var cmp Comparison
		if cmp, out.Err = e.Compare(ctx, app, desired, false); out.Err == nil {
			out.SyncStatus = cmp.Status
			for _, r := range cmp.Results {
				out.Applied = append(out.Applied, apply.Result{Ref: r.Ref, Action: r.Action, Owner: r.Owner})
			}
		} else {
			out.SyncStatus = gitopsv1alpha1.SyncStatusUnknown
		}
	}
	pruned := out.judge(previous, desired)

	// The inventory: what Git holds now, plus what left Git but was not pruned.
	refs := refsOf(desired)
	if !pruned {
		refs = appendMissing(refs, previous)
	}
	out.Resources, out.Health = e.inventory(ctx, refs, desired, out, req.Health)
	return out.finish()
}

// unreachable is the outcome when the destination cannot be reached: nothing is known of the
// objects there, and nothing is applied or pruned. The inventory is kept as it was, to be
// judged when it is back.
func unreachable(app *gitopsv1alpha1.Application, out Outcome, err error) Outcome {
	out.Err, out.SourceRevision = err, app.Status.SourceRevision
	out.SyncStatus = gitopsv1alpha1.SyncStatusUnknown
	out.Health = health.Status{Code: gitopsv1alpha1.HealthUnknown, Message: err.Error()}
	out.Resources = slices.Clone(out.Resources) // the caller's status stays as it was
	for i := range out.Resources {
		out.Resources[i].Status, out.Resources[i].Health = gitopsv1alpha1.SyncStatusUnknown, gitopsv1alpha1.HealthUnknown
	}
	return out
}

// freshEnough says how old a ref listing the sync may use. A sync request, or an edited spec,
// deploys what the branch names now, not what a listing shared with other Applications saw a few
// seconds ago; a new Application what it named when it was created (to the second), so that a
// thousand Applications created together share listings.
//
// A refresh (POST .../refresh, or a push a Receiver heard) waits for a listing that started no
// earlier than it was requested, to the microsecond: one that started before may predate the
// push. Refreshes of many Applications of one repository requested together join one listing.
func freshEnough(ctx context.Context, app *gitopsv1alpha1.Application, op *gitopsv1alpha1.Operation) context.Context {
	var bound time.Time
	switch {
	case op != nil || app.Status.ObservedGeneration != 0 && app.Generation != app.Status.ObservedGeneration:
		return source.WithNotBefore(ctx, time.Now())
	case app.Status.ObservedGeneration == 0:
		bound = app.CreationTimestamp.Time
	}
	if requested, ok := gitopsv1alpha1.PendingRefresh(app); ok && requested.After(bound) {
		bound = requested
	}
	if bound.IsZero() {
		return ctx
	}
	return source.WithNotBefore(ctx, bound)
}

// judge settles the sync status from what the plan did, and says whether the objects that left
// Git were pruned.
func (out *Outcome) judge(previous []apply.ObjectRef, desired []*unstructured.Unstructured) (pruned bool) {
	if out.Plan.Held != "" && out.Err == nil {
		// The comparison is fresh, the failure that holds the Application stays reported.
		out.Err = &StageError{Reason: gitopsv1alpha1.ReasonHookFailed, Terminal: true, Err: errors.New(out.Plan.Held)}
	}
	if out.Synced && out.Err == nil && out.Selected == nil {
		out.SyncStatus = gitopsv1alpha1.SyncStatusSynced
	}
	// Objects another Application manages were left alone: Git's version is not what runs.
	for _, r := range out.Applied {
		if r.Action == apply.Shared {
			out.Shared = append(out.Shared, r)
		}
	}
	if len(out.Shared) > 0 && out.SyncStatus == gitopsv1alpha1.SyncStatusSynced {
		out.SyncStatus = gitopsv1alpha1.SyncStatusOutOfSync
	}
	pruned = out.Synced && out.Err == nil && out.Plan.Prune
	if !pruned {
		out.Kept = leftGit(previous, desired)
		if len(out.Kept) > 0 && out.SyncStatus == gitopsv1alpha1.SyncStatusSynced {
			out.SyncStatus = gitopsv1alpha1.SyncStatusOutOfSync
		}
	}
	if out.Err != nil && out.SyncStatus == "" {
		out.SyncStatus = gitopsv1alpha1.SyncStatusUnknown
	}
	return pruned
}

// apply carries out an ActionApply plan: the namespace, the objects (wave by wave, with their
// hooks, when they name waves or hooks), then the prune.
func (e *Engine) apply(ctx context.Context, req SyncRequest, as Actor, desired []*unstructured.Unstructured, hookList []hooks.Hook, previous []apply.ObjectRef, out *Outcome) {
	app := req.App
	plan := out.Plan
	all := desired
	if len(plan.Resources) > 0 {
		selected, unmatched := SelectResources(desired, plan.Resources)
		if len(unmatched) > 0 {
			var missing []string
			for _, i := range unmatched {
				missing = append(missing, fmt.Sprintf("spec.resources[%d] %s", i, ResourceString(plan.Resources[i])))
			}
			out.Err = &StageError{Reason: gitopsv1alpha1.ReasonApplyFailed, Terminal: true,
				Err: fmt.Errorf("%s: no such object in what revision %s renders; nothing was applied", strings.Join(missing, ", "), gitopsv1alpha1.ShortRevision(out.SourceRevision))}
			return
		}
		desired = selected
		for _, o := range selected {
			out.Selected = append(out.Selected, apply.RefOf(o))
		}
	}
	waves, err := WavesOf(desired)
	if err != nil {
		out.Err = &StageError{Reason: gitopsv1alpha1.ReasonApplyFailed, Terminal: true, Err: fmt.Errorf("%w; nothing was applied", err)}
		return
	}
	// Hooks run on a full sync that was asked for or that applies a new revision or spec: not on
	// a dry run, a sync limited to some objects, or selfHeal putting drift back.
	if !plan.RunHooks || plan.DryRun || out.Selected != nil {
		hookList = nil
	}
	if plan.CreateNamespace {
		if err := as.Applier.EnsureNamespace(ctx, as.User, app.Spec.Destination.Namespace); err != nil {
			out.Err = applyError(err, nil)
			return
		}
	}
	opts := apply.Options{DryRun: plan.DryRun, Ignore: IgnoreRules(app), Cached: req.Cached}
	prune := func() {
		if !plan.Prune || out.Selected != nil {
			return
		}
		if out.Pruned, err = as.Applier.Prune(ctx, AppOf(app), as.User, previous, desired, plan.DryRun); err != nil {
			out.Err = &StageError{Reason: gitopsv1alpha1.ReasonPruneFailed, Err: err}
		}
	}
	if (len(waves) > 1 || len(hookList) > 0) && !plan.DryRun {
		o := &orderedSync{ctx: ctx, e: e, req: req, as: as, desired: desired, opts: opts, out: out, timeout: waveTimeoutOf(app)}
		if !o.run(waves, hookList, prune) {
			return
		}
	} else {
		results, err := as.Applier.Apply(ctx, as.User, desired, opts)
		out.Applied = results
		if err != nil {
			out.Err = applyError(err, desired)
			return
		}
		prune()
	}
	if out.Selected != nil {
		// A selective sync prunes nothing, and the Application is Synced only when the objects
		// it left alone match Git too.
		if !plan.DryRun {
			out.Synced = true
		}
		cmp, err := e.Compare(ctx, app, all, false)
		if err != nil {
			out.Err = err
			return
		}
		out.SyncStatus = cmp.Status
		out.outOfSync = map[string]bool{}
		for _, r := range cmp.Results {
			if r.Action == apply.Created || r.Action == apply.Configured {
				out.outOfSync[r.Ref.Key()] = true
			}
		}
		if out.Synced && cmp.Status == gitopsv1alpha1.SyncStatusSynced {
			out.SyncedRevision = out.SourceRevision
		}
		return
	}
	if !plan.DryRun {
		out.Synced = true
		out.SyncedRevision = out.SourceRevision
	}
}

// finish keeps an Application that never deployed anything from looking Healthy.
func (o Outcome) finish() Outcome {
	if len(o.Resources) == 0 && o.Err != nil {
		o.Health = health.Status{Code: gitopsv1alpha1.HealthUnknown, Message: "nothing deployed yet"}
	}
	return o
}

// Comparison is the cluster compared with what Git holds, changing nothing.
type Comparison struct {
	// Status is OutOfSync when an object would be created or changed, or an object of the
	// inventory left Git (a pruning sync would delete it).
	Status gitopsv1alpha1.SyncStatusCode
	// Results has an entry per object in Git; Live and Desired only when asked for objects.
	Results []apply.DiffResult
	// Prunable are the live objects of the inventory that left Git and that a prune would
	// delete (tracked by this Application); only when asked for objects.
	Prunable []*unstructured.Unstructured
}

// Compare dry-runs desired as the Application's identity and compares it with the cluster and
// the inventory. withObjects adds the objects a diff shows (at the cost of reading the prunable
// ones); the controller needs only the verdict.
func (e *Engine) Compare(ctx context.Context, app *gitopsv1alpha1.Application, desired []*unstructured.Unstructured, withObjects bool) (Comparison, error) {
	as, err := e.ActorOf(app)
	if err != nil {
		return Comparison{}, err
	}
	return e.CompareAs(ctx, as, app, desired, withObjects)
}

// CompareAs is Compare made as the actor as rather than as the Application's own identity: a
// preview compares as the person who asked (ActorAsUser).
func (e *Engine) CompareAs(ctx context.Context, as Actor, app *gitopsv1alpha1.Application, desired []*unstructured.Unstructured, withObjects bool) (Comparison, error) {
	var cmp Comparison
	ignore := IgnoreRules(app)
	if withObjects {
		results, err := as.Applier.Diff(ctx, as.User, desired, ignore)
		if err != nil {
			return cmp, applyError(err, desired)
		}
		cmp.Results = results
	} else {
		results, err := as.Applier.Compare(ctx, as.User, desired, ignore)
		if err != nil {
			return cmp, applyError(err, desired)
		}
		for _, r := range results {
			cmp.Results = append(cmp.Results, apply.DiffResult{Ref: r.Ref, Action: r.Action, Owner: r.Owner})
		}
	}
	cmp.Status = gitopsv1alpha1.SyncStatusSynced
	for _, r := range cmp.Results {
		if r.Action == apply.Created || r.Action == apply.Configured || r.Action == apply.Shared {
			cmp.Status = gitopsv1alpha1.SyncStatusOutOfSync
		}
	}
	inGit := map[string]bool{}
	for _, r := range refsOf(desired) {
		inGit[r.Key()] = true
	}
	appID := AppOf(app)
	for _, ref := range InventoryRefs(app.Status.Resources) {
		if inGit[ref.Key()] {
			continue
		}
		cmp.Status = gitopsv1alpha1.SyncStatusOutOfSync
		if !withObjects {
			continue
		}
		if live, err := as.Applier.Live(ctx, as.User, ref); err == nil && apply.Owned(appID, live) {
			cmp.Prunable = append(cmp.Prunable, live)
		}
	}
	return cmp, nil
}

// applyError classifies a failure of the cluster: a refusal of the identity is Forbidden and
// retried (granting the permission cures it); any other dry run the server refuses needs a new
// commit. The message is masked of the Secret values among desired, which the server may quote.
func applyError(err error, desired []*unstructured.Unstructured) error {
	err = redact.Error(err, redact.FromObjects(desired))
	if apply.IsForbidden(err) {
		// The server's refusal names the identity, the verb, the resource and the namespace.
		return &StageError{Reason: gitopsv1alpha1.ReasonForbidden, Err: fmt.Errorf("%w; "+
			"grant the Application's ServiceAccount that permission (a Role and RoleBinding in that namespace, "+
			"a ClusterRole and ClusterRoleBinding for cluster-scoped objects), or name another spec.serviceAccountName", err)}
	}
	var refused *apply.DryRunRefusedError
	return &StageError{Reason: gitopsv1alpha1.ReasonApplyFailed, Terminal: errors.As(err, &refused), Err: err}
}

// inventory builds status.resources with each object's sync state and live health, and the
// aggregate health.
func (e *Engine) inventory(ctx context.Context, refs []apply.ObjectRef, desired []*unstructured.Unstructured, out Outcome, judge HealthFunc) ([]gitopsv1alpha1.ResourceStatus, health.Status) {
	changed := out.outOfSync
	if changed == nil {
		changed = map[string]bool{}
		for _, r := range out.Applied {
			if !out.Synced && (r.Action == apply.Created || r.Action == apply.Configured) {
				changed[r.Ref.Key()] = true
			}
		}
	}
	inGit := map[string]bool{}
	for _, r := range refsOf(desired) {
		inGit[r.Key()] = true
	}
	shared := map[string]bool{}
	for _, r := range out.Shared {
		shared[r.Ref.Key()] = true
	}
	var named []health.Named
	resources := make([]gitopsv1alpha1.ResourceStatus, 0, len(refs))
	for _, ref := range refs {
		h := judge(ctx, ref)
		status := gitopsv1alpha1.SyncStatusSynced
		if changed[ref.Key()] || !inGit[ref.Key()] || (out.Err != nil && !out.Synced) {
			status = gitopsv1alpha1.SyncStatusOutOfSync
		}
		if out.SyncStatus == gitopsv1alpha1.SyncStatusUnknown {
			status = gitopsv1alpha1.SyncStatusUnknown
		}
		if shared[ref.Key()] {
			status = gitopsv1alpha1.SyncStatusSharedResource
		}
		resources = append(resources, gitopsv1alpha1.ResourceStatus{
			Group: ref.Group, Version: ref.Version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name,
			Status: status, Health: h.Code,
		})
		named = append(named, health.Named{Name: ref.Kind + "/" + ref.Name, Status: h})
	}
	return resources, health.Aggregate(named)
}

// InventoryHealth judges an inventory again: the inventory with each object's health updated,
// and the aggregate.
func InventoryHealth(ctx context.Context, resources []gitopsv1alpha1.ResourceStatus, judge HealthFunc) ([]gitopsv1alpha1.ResourceStatus, health.Status) {
	named := make([]health.Named, 0, len(resources))
	updated := make([]gitopsv1alpha1.ResourceStatus, len(resources))
	for i, ref := range InventoryRefs(resources) {
		h := judge(ctx, ref)
		updated[i] = resources[i]
		updated[i].Health = h.Code
		named = append(named, health.Named{Name: ref.Kind + "/" + ref.Name, Status: h})
	}
	return updated, health.Aggregate(named)
}

// HealthAs judges objects read live by an Application's Actor.
func HealthAs(as Actor) HealthFunc {
	return func(ctx context.Context, ref apply.ObjectRef) health.Status { return LiveHealth(ctx, as, ref) }
}

// LiveHealth reads one object from the Actor's cluster as its identity and judges its health; an
// object the identity may not read is Unknown, with the refusal as its message.
func LiveHealth(ctx context.Context, as Actor, ref apply.ObjectRef) health.Status {
	live, err := as.Applier.Live(ctx, as.User, ref)
	if err != nil {
		msg := err.Error()
		if len(msg) > 200 {
			msg = msg[:197] + "..."
		}
		return health.Status{Code: gitopsv1alpha1.HealthUnknown, Message: msg}
	}
	return health.Of(live)
}

// InventoryRefs are the objects of an inventory.
func InventoryRefs(resources []gitopsv1alpha1.ResourceStatus) []apply.ObjectRef {
	refs := make([]apply.ObjectRef, 0, len(resources))
	for _, r := range resources {
		refs = append(refs, apply.ObjectRef{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name})
	}
	return refs
}

func refsOf(objs []*unstructured.Unstructured) []apply.ObjectRef {
	refs := make([]apply.ObjectRef, 0, len(objs))
	for _, o := range objs {
		refs = append(refs, apply.RefOf(o))
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Key() < refs[j].Key() })
	return refs
}

// leftGit are the refs of the inventory that desired no longer holds.
func leftGit(inventory []apply.ObjectRef, desired []*unstructured.Unstructured) []apply.ObjectRef {
	inGit := map[string]bool{}
	for _, o := range desired {
		inGit[apply.RefOf(o).Key()] = true
	}
	var left []apply.ObjectRef
	for _, r := range inventory {
		if !inGit[r.Key()] {
			left = append(left, r)
		}
	}
	return left
}

func appendMissing(refs, more []apply.ObjectRef) []apply.ObjectRef {
	seen := map[string]bool{}
	for _, r := range refs {
		seen[r.Key()] = true
	}
	for _, r := range more {
		if !seen[r.Key()] {
			refs = append(refs, r)
			seen[r.Key()] = true
		}
	}
	return refs
}
