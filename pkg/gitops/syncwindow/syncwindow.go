// Package syncwindow says whether SyncWindows let an Application sync at a given time: a pure
// evaluation of their schedules, durations, time zones and selectors, shared by the controller
// (automated syncs) and the registry (/sync and /rollback). It reads nothing but its arguments.
package syncwindow

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// Bounds of an evaluation. A window whose occurrences overlap without a gap for longer than
// maxOccurrences (a schedule of every minute with a duration of an hour) is in force with no
// end in sight; an Application blocked through more than maxSteps openings and closings of its
// windows is blocked with no end in sight.
const (
	maxOccurrences = 512
	maxSteps       = 32
)

// parser reads the standard cron format of five fields, and nothing else: no seconds, no
// @every (a delay from whenever it is asked, meaningless for a window), no descriptors.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// ParseSchedule reads a schedule of five cron fields in the IANA time zone tz ("" is UTC). The
// time zone is spec.timeZone's to say, never the schedule's own CRON_TZ= prefix.
func ParseSchedule(schedule, tz string) (cron.Schedule, error) {
	if strings.Contains(schedule, "TZ=") {
		return nil, fmt.Errorf("the time zone goes in spec.timeZone, not in the schedule")
	}
	if strings.HasPrefix(strings.TrimSpace(schedule), "@") {
		return nil, fmt.Errorf("five cron fields are expected (minute hour day-of-month month day-of-week), not a descriptor")
	}
	loc, err := LoadLocation(tz)
	if err != nil {
		return nil, err
	}
	s, err := parser.Parse(schedule)
	if err != nil {
		return nil, err
	}
	spec, ok := s.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("five cron fields are expected (minute hour day-of-month month day-of-week)")
	}
	spec.Location = loc
	return spec, nil
}

// LoadLocation is the time zone of an IANA name; "" is UTC.
func LoadLocation(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("not an IANA time zone name (such as Europe/Berlin or America/New_York)")
	}
	return loc, nil
}

// Verdict is what an Application's SyncWindows say at one time.
type Verdict struct {
	// Selected: at least one window selects the Application (only then has it a SyncWindow
	// condition).
	Selected bool
	// Blocked: the windows keep syncs out now.
	Blocked bool
	// Reason says why, when Blocked: ReasonDenyWindow or ReasonOutsideAllowWindow.
	Reason string
	// ManualAllowed: requested syncs and rollbacks may run although Blocked (spec.manualSync).
	ManualAllowed bool
	// Window is namespace/name of the window that blocks: the deny window in force, or the allow
	// window that opens next.
	Window string
	// Until is when syncs are allowed again; zero when no end is in sight.
	Until time.Time
}

// String says what blocks and until when, for conditions and refusals.
func (v Verdict) String() string {
	if !v.Blocked {
		return "no SyncWindow blocks syncs now"
	}
	what := "deny window " + v.Window + " is in force"
	if v.Reason == gitopsv1alpha1.ReasonOutsideAllowWindow {
		what = "outside every allow window (next: " + v.Window + ")"
	}
	if v.Until.IsZero() {
		return what + ", with no end in sight"
	}
	return what + " until " + v.Until.UTC().Format(time.RFC3339)
}

// window is a SyncWindow ready to evaluate.
type window struct {
	name     string
	deny     bool
	manual   bool
	schedule cron.Schedule
	duration time.Duration
}

// inForce says whether w is in force at t — some time s of its schedule has s <= t < s+duration
// — and when the stretch of overlapping occurrences it is in ends (zero when it does not within
// maxOccurrences).
func (w *window) inForce(t time.Time) (bool, time.Time) {
	s := w.schedule.Next(t.Add(-w.duration)) // the first start after t-duration
	if s.IsZero() || s.After(t) {
		return false, time.Time{}
	}
	end := s.Add(w.duration)
	for range maxOccurrences {
		n := w.schedule.Next(s)
		if n.IsZero() || n.After(end) {
			return true, end
		}
		s, end = n, n.Add(w.duration)
	}
	return true, time.Time{}
}

// Evaluate says whether the windows (of the Application's namespace) let an Application with
// labels appLabels sync at now. Deny windows in force block; when allow windows select the
// Application, it syncs only while one of them is in force; deny wins over allow. A window
// whose selector, schedule or time zone does not parse (written before a check existed) is left
// out: the registry refuses such windows.
func Evaluate(now time.Time, windows []gitopsv1alpha1.SyncWindow, appLabels map[string]string) Verdict {
	var selected []*window
	for i := range windows {
		if w := compile(&windows[i], appLabels); w != nil {
			selected = append(selected, w)
		}
	}
	if len(selected) == 0 {
		return Verdict{}
	}
	sort.Slice(selected, func(i, j int) bool { return selected[i].name < selected[j].name })
	v := stateAt(now, selected)
	v.Selected = true
	if !v.Blocked {
		return v
	}
	v.Until = openAfter(now, selected)
	return v
}

// compile makes a window of w when it selects the labels.
func compile(w *gitopsv1alpha1.SyncWindow, appLabels map[string]string) *window {
	if w.Spec.Selector == nil || w.Spec.Duration.Duration <= 0 {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(w.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(appLabels)) {
		return nil
	}
	schedule, err := ParseSchedule(w.Spec.Schedule, w.Spec.TimeZone)
	if err != nil {
		return nil
	}
	return &window{
		name: w.Namespace + "/" + w.Name, deny: w.Spec.Kind == gitopsv1alpha1.SyncWindowDeny, manual: w.Spec.ManualSync,
		schedule: schedule, duration: w.Spec.Duration.Duration,
	}
}

// stateAt is the verdict at t, without Until.
func stateAt(t time.Time, windows []*window) Verdict {
	var v Verdict
	denyManual, hasAllow, allowActive, allowManual := true, false, false, false
	var nextAllow time.Time
	for _, w := range windows {
		active, _ := w.inForce(t)
		switch {
		case w.deny && active:
			if !v.Blocked {
				v.Blocked, v.Reason, v.Window = true, gitopsv1alpha1.ReasonDenyWindow, w.name
			}
			denyManual = denyManual && w.manual
		case !w.deny:
			hasAllow = true
			allowActive = allowActive || active
			allowManual = allowManual || w.manual
			if n := w.schedule.Next(t); !active && !n.IsZero() && (nextAllow.IsZero() || n.Before(nextAllow)) {
				nextAllow = n
				if v.Reason != gitopsv1alpha1.ReasonDenyWindow {
					v.Window = w.name
				}
			}
		}
	}
	outsideAllow := hasAllow && !allowActive
	if !v.Blocked && outsideAllow {
		v.Blocked, v.Reason = true, gitopsv1alpha1.ReasonOutsideAllowWindow
		if v.Window == "" { // no allow window ever opens again
			for _, w := range windows {
				if !w.deny {
					v.Window = w.name
					break
				}
			}
		}
	}
	if v.Blocked {
		// Every deny window in force must allow manual syncs, and, outside every allow window,
		// one of them must (as Argo CD reads manualSync).
		v.ManualAllowed = denyManual && (!outsideAllow || allowManual)
	}
	return v
}

// openAfter is the first time from t on when the windows let syncs run, stepping from closing
// to opening; zero when none is found within maxSteps, or a window never ends.
func openAfter(t time.Time, windows []*window) time.Time {
	for range maxSteps {
		var denyEnd, allowStart time.Time
		denied, hasAllow, allowActive := false, false, false
		for _, w := range windows {
			active, end := w.inForce(t)
			switch {
			case w.deny && active:
				if end.IsZero() {
					return time.Time{}
				}
				denied = true
				if end.After(denyEnd) {
					denyEnd = end
				}
			case !w.deny:
				hasAllow = true
				allowActive = allowActive || active
				if n := w.schedule.Next(t); !n.IsZero() && (allowStart.IsZero() || n.Before(allowStart)) {
					allowStart = n
				}
			}
		}
		switch {
		case denied:
			t = denyEnd
		case hasAllow && !allowActive:
			if allowStart.IsZero() {
				return time.Time{}
			}
			t = allowStart
		default:
			return t
		}
	}
	return time.Time{}
}

// InForce says whether a window of this schedule, time zone and duration is in force at now,
// and when that next changes: when it closes if it is in force (zero: no end in sight), else
// when it next opens (zero: never). kubectl get syncwindows shows both.
func InForce(now time.Time, schedule, tz string, duration time.Duration) (bool, time.Time, error) {
	s, err := ParseSchedule(schedule, tz)
	if err != nil {
		return false, time.Time{}, err
	}
	if duration <= 0 {
		return false, time.Time{}, fmt.Errorf("the duration must be greater than zero")
	}
	w := &window{schedule: s, duration: duration}
	if active, end := w.inForce(now); active {
		return true, end, nil
	}
	return false, s.Next(now), nil
}
