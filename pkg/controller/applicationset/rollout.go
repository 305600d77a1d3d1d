package applicationset

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
)

// The RolledOut condition of a set with a rolling sync, and its reasons.
const (
	ConditionRolledOut       = "RolledOut"
	ReasonRolloutComplete    = "Complete"
	ReasonRolloutProgressing = "Progressing"
	ReasonRolloutDegraded    = "Degraded"
	ReasonRolloutPaused      = "Paused"
	unmatchedStep            = gitopsv1alpha1.RolloutUnmatchedStep
)

// rollout is what a rolling sync lets happen in one generation.
type rollout struct {
	// hold are the generated Applications that keep what they have (or, not created yet, wait
	// to be): a step before theirs is not done, or their step's maxUpdate is used up.
	hold   map[string]bool
	stepOf map[string]string
	steps  []gitopsv1alpha1.RolloutStepStatus
	cond   metav1.Condition
}

// planRollout walks the steps in order. Within a step, an Application takes the set's spec
// while fewer than maxUpdate updated ones are not yet Synced and Healthy at theirs; the next
// step starts only when every Application of this one is. A Degraded updated Application stops
// the rollout where it is: nothing further is updated until it is Healthy or the set changes
// again. It decides from what is stored, so it needs no memory of its own: a restart, a second
// replica or a set changed mid-rollout all read the same answer.
func planRollout(set *gitopsv1alpha1.ApplicationSet, want []*gitopsv1alpha1.Application, owned map[string]*gitopsv1alpha1.Application) (rollout, error) {
	steps := set.Spec.Strategy.RollingSync.Steps
	selectors := make([]labels.Selector, len(steps))
	for i := range steps {
		sel, err := metav1.LabelSelectorAsSelector(&steps[i].Selector)
		if err != nil {
			return rollout{}, fmt.Errorf("spec.strategy.rollingSync.steps[%d].selector: %w", i, err)
		}
		selectors[i] = sel
	}
	members := make([][]*gitopsv1alpha1.Application, len(steps)+1)
	r := rollout{hold: map[string]bool{}, stepOf: map[string]string{}}
	for _, app := range want {
		i := len(steps)
		for j, sel := range selectors {
			if sel.Matches(labels.Set(app.Labels)) {
				i = j
				break
			}
		}
		members[i] = append(members[i], app)
	}
	blockedBy := ""
	for i, apps := range members {
		if i == len(steps) && len(apps) == 0 {
			break
		}
		name, maxUpdate := unmatchedStep, (*intstr.IntOrString)(nil)
		if i < len(steps) {
			name, maxUpdate = steps[i].StepName(i), steps[i].MaxUpdate
		}
		st := gitopsv1alpha1.RolloutStepStatus{Name: name, Applications: int32(len(apps))}
		waiting := stepProgress(apps, owned, set.Spec.SyncPolicy.ApplicationsSync, &st)
		for _, app := range apps {
			r.stepOf[app.Name] = name
		}
		if blockedBy != "" {
			st.Phase, st.Message = gitopsv1alpha1.RolloutStepWaiting, "waits for step "+blockedBy
			r.holdAll(waiting.notUpdated)
			r.steps = append(r.steps, st)
			continue
		}
		waiting.decide(&st, scaled(maxUpdate, len(apps)))
		r.holdAll(waiting.notUpdated[len(waiting.notUpdated)-waiting.held:])
		if st.Phase != gitopsv1alpha1.RolloutStepComplete {
			blockedBy = name
		}
		r.steps = append(r.steps, st)
	}
	r.cond = rolloutCondition(set.Generation, r.steps)
	return r, nil
}

func (r *rollout) holdAll(names []string) {
	for _, n := range names {
		r.hold[n] = true
	}
}

// scaled is maxUpdate for a step of n Applications: default all of them; a percentage rounds
// down but is at least one when it is above zero.
func scaled(maxUpdate *intstr.IntOrString, n int) int {
	if maxUpdate == nil {
		return n
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(maxUpdate, n, false)
	if err != nil {
		return n // validation refuses what does not scale
	}
	if v == 0 && maxUpdate.Type == intstr.String && maxUpdate.StrVal != "0%" && n > 0 {
		return 1
	}
	return v
}

// progress sorts a step's Applications by where they stand.
type progress struct {
	notUpdated []string // not created, or not at the set's spec: sorted, the next to update first
	pending    []string // at the set's spec, not yet Synced and Healthy at it
	degraded   []string // at the set's spec, and Degraded
	held       int      // how many of notUpdated wait (the last ones), set by decide
}

func stepProgress(apps []*gitopsv1alpha1.Application, owned map[string]*gitopsv1alpha1.Application, policy gitopsv1alpha1.ApplicationsSyncPolicy, st *gitopsv1alpha1.RolloutStepStatus) progress {
	var p progress
	sorted := append([]*gitopsv1alpha1.Application(nil), apps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, app := range sorted {
		cur := owned[app.Name]
		// create-only never updates: an existing Application is as updated as it will be.
		if cur == nil || (policy != gitopsv1alpha1.ApplicationsSyncCreateOnly && !upToDate(cur, app)) {
			p.notUpdated = append(p.notUpdated, app.Name)
			continue
		}
		st.Updated++
		observed := cur.Status.ObservedGeneration >= cur.Generation
		switch {
		case observed && cur.Status.Health.Status == gitopsv1alpha1.HealthDegraded:
			p.degraded = append(p.degraded, app.Name)
		case observed && cur.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && cur.Status.Health.Status == gitopsv1alpha1.HealthHealthy:
			st.Ready++
		default:
			p.pending = append(p.pending, app.Name)
		}
	}
	return p
}

// decide sets the step's phase and message, and how many of its Applications wait.
func (p *progress) decide(st *gitopsv1alpha1.RolloutStepStatus, maxUpdate int) {
	switch {
	case len(p.degraded) > 0:
		p.held = len(p.notUpdated)
		st.Phase = gitopsv1alpha1.RolloutStepDegraded
		st.Message = fmt.Sprintf("%s Degraded at the set's current spec: the rollout stops here until %s Healthy or the set changes",
			names(p.degraded), plural(len(p.degraded), "it is", "they are"))
	case len(p.notUpdated) > 0 && maxUpdate == 0:
		p.held = len(p.notUpdated)
		st.Phase = gitopsv1alpha1.RolloutStepPaused
		st.Message = fmt.Sprintf("maxUpdate is 0: raise it to roll out to %s", names(p.notUpdated))
	case len(p.notUpdated) > 0 || len(p.pending) > 0:
		start := min(max(maxUpdate-len(p.pending), 0), len(p.notUpdated))
		p.held = len(p.notUpdated) - start
		st.Phase = gitopsv1alpha1.RolloutStepProgressing
		var parts []string
		if inFlight := append(append([]string(nil), p.pending...), p.notUpdated[:start]...); len(inFlight) > 0 {
			parts = append(parts, "waiting for "+names(inFlight)+" to be Synced and Healthy")
		}
		if p.held > 0 {
			parts = append(parts, fmt.Sprintf("%d more to update (maxUpdate %d)", p.held, maxUpdate))
		}
		st.Message = strings.Join(parts, "; ")
	default:
		st.Phase = gitopsv1alpha1.RolloutStepComplete
	}
}

// rolloutCondition sums the steps up: True once every step is Complete, otherwise the first
// step that is not, and why.
func rolloutCondition(generation int64, steps []gitopsv1alpha1.RolloutStepStatus) metav1.Condition {
	c := metav1.Condition{Type: ConditionRolledOut, Status: metav1.ConditionTrue, Reason: ReasonRolloutComplete, ObservedGeneration: generation,
		Message: fmt.Sprintf("every step (%d) is Synced and Healthy at the set's current spec", len(steps))}
	for i, st := range steps {
		if st.Phase == gitopsv1alpha1.RolloutStepComplete {
			continue
		}
		c.Status = metav1.ConditionFalse
		c.Reason = map[gitopsv1alpha1.RolloutStepPhase]string{
			gitopsv1alpha1.RolloutStepDegraded: ReasonRolloutDegraded,
			gitopsv1alpha1.RolloutStepPaused:   ReasonRolloutPaused,
		}[st.Phase]
		if c.Reason == "" {
			c.Reason = ReasonRolloutProgressing
		}
		c.Message = truncate(fmt.Sprintf("step %d of %d (%s): %s", i+1, len(steps), st.Name, st.Message))
		break
	}
	return c
}

func names(apps []string) string {
	const shown = 10
	label := plural(len(apps), "Application ", "Applications ")
	if len(apps) > shown {
		return label + strings.Join(apps[:shown], ", ") + fmt.Sprintf(" and %d more", len(apps)-shown)
	}
	return label + strings.Join(apps, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fullCommit is a revision that names one commit and never moves.
var fullCommit = regexp.MustCompile(`^[0-9a-f]{40}$`)

// pinRevisions names each Git source's revision of a generated Application by its commit, so
// that a new commit of a branch reaches the Applications step by step like any change of the
// set: an Application of a later step keeps the commit it was given. Chart sources name a
// version, which only the template changes. resolved caches the answers of one generation.
func (c *Controller) pinRevisions(ctx context.Context, app *gitopsv1alpha1.Application, resolved map[string]string) error {
	srcs := engine.Sources(app)
	tracked, pinned := make([]string, len(srcs)), false
	for i, src := range srcs {
		tracked[i] = src.Revision
		if tracked[i] == "" {
			tracked[i] = "HEAD"
		}
		if src.Chart != "" || fullCommit.MatchString(src.Revision) {
			continue
		}
		pinned = true
		key := src.RepoURL + "\x00" + src.Revision
		if src.CredentialsRef != nil {
			key += "\x00" + src.CredentialsRef.Name
		}
		sha, ok := resolved[key]
		if !ok {
			var err error
			if sha, err = c.resolve(ctx, app.Namespace, src); err != nil {
				return fmt.Errorf("resolving revision %q of Application %s, %s: %w", src.Revision, app.Name, src.Field, err)
			}
			resolved[key] = sha
		}
		src.Revision = sha
	}
	if pinned {
		if app.Annotations == nil {
			app.Annotations = map[string]string{}
		}
		app.Annotations[gitopsv1alpha1.TrackedRevisionAnnotation] = strings.Join(tracked, gitopsv1alpha1.RevisionSeparator)
	}
	return nil
}

// newestRefresh is when the newest refresh of the set's Applications was asked for (a
// Receiver's push, kubectl ferry refresh): a branch is resolved from a listing of the
// repository's refs made after it, so the push is seen at once rather than at the next interval.
func newestRefresh(owned map[string]*gitopsv1alpha1.Application) (time.Time, bool) {
	var newest time.Time
	for _, app := range owned {
		// Handled or not: the Application's own controller may have read the refs first, and
		// an older bound is met by any listing since.
		if r := app.Status.Refresh; r != nil && r.RequestedAt.After(newest) {
			newest = r.RequestedAt.Time
		}
	}
	return newest, !newest.IsZero()
}

// resolveWithEngine resolves a source's revision through the shared Git cache, with the
// credentials it names (which the set's ServiceAccount was checked to read).
func (c *Controller) resolveWithEngine(ctx context.Context, namespace string, src engine.SourceAt) (string, error) {
	ref := ""
	if src.CredentialsRef != nil {
		ref = src.CredentialsRef.Name
	}
	return c.resolveRevision(ctx, namespace, src.RepoURL, src.Revision, ref, src.Field+".credentialsRef")
}
