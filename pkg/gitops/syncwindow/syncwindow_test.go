package syncwindow

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func sw(name string, kind gitopsv1alpha1.SyncWindowKind, schedule string, d time.Duration, mutate ...func(*gitopsv1alpha1.SyncWindowSpec)) gitopsv1alpha1.SyncWindow {
	w := gitopsv1alpha1.SyncWindow{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: name},
		Spec: gitopsv1alpha1.SyncWindowSpec{Kind: kind, Schedule: schedule, Duration: metav1.Duration{Duration: d},
			TimeZone: "UTC", Selector: &metav1.LabelSelector{}},
	}
	for _, m := range mutate {
		m(&w.Spec)
	}
	return w
}

func manual(s *gitopsv1alpha1.SyncWindowSpec) { s.ManualSync = true }

func zone(tz string) func(*gitopsv1alpha1.SyncWindowSpec) {
	return func(s *gitopsv1alpha1.SyncWindowSpec) { s.TimeZone = tz }
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

const (
	deny  = gitopsv1alpha1.SyncWindowDeny
	allow = gitopsv1alpha1.SyncWindowAllow
)

// TestEvaluate: what an Application's windows say at a time — whether it may sync, why not,
// which window, until when, and whether a requested sync may run anyway. 2026-12-07 is a Monday.
func TestEvaluate(t *testing.T) {
	prod := map[string]string{"tier": "prod"}
	for _, tc := range []struct {
		name    string
		now     string
		windows []gitopsv1alpha1.SyncWindow
		labels  map[string]string
		want    Verdict
	}{
		{"no window: nothing to say", "2026-12-07T12:30:00Z", nil, prod, Verdict{}},
		{"deny in force blocks until it ends", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/freeze", Until: at("2026-12-07T13:00:00Z")}},
		{"deny in force from its first second", "2026-12-07T12:00:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/freeze", Until: at("2026-12-07T13:00:00Z")}},
		{"deny no longer in force at its end", "2026-12-07T13:00:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true}},
		{"deny outside its hours lets it sync", "2026-12-07T14:00:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true}},
		{"selector not matching: the window says nothing", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour, func(s *gitopsv1alpha1.SyncWindowSpec) {
				s.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "dev"}}
			})}, prod, Verdict{}},
		{"selector matching", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour, func(s *gitopsv1alpha1.SyncWindowSpec) {
				s.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}}
			})}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/freeze", Until: at("2026-12-07T13:00:00Z")}},
		{"allow only, outside: blocked until it next opens (Tuesday 09:00)", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * 1-5", 2*time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "OutsideAllowWindow", Window: "team/office", Until: at("2026-12-08T09:00:00Z")}},
		{"allow only, on Friday evening: blocked until Monday", "2026-12-11T18:00:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * 1-5", 2*time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "OutsideAllowWindow", Window: "team/office", Until: at("2026-12-14T09:00:00Z")}},
		{"allow only, inside: syncs", "2026-12-07T10:00:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * 1-5", 2*time.Hour)}, prod,
			Verdict{Selected: true}},
		{"allow outside names the window opening next", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("a-night", allow, "0 22 * * *", time.Hour), sw("b-afternoon", allow, "0 15 * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "OutsideAllowWindow", Window: "team/b-afternoon", Until: at("2026-12-07T15:00:00Z")}},
		{"deny wins over an allow in force", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * *", 8*time.Hour), sw("lunch", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/lunch", Until: at("2026-12-07T13:00:00Z")}},
		{"a deny outlasting the allow: blocked until the allow opens again", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * *", 4*time.Hour), sw("lunch", deny, "0 12 * * *", 2*time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/lunch", Until: at("2026-12-08T09:00:00Z")}},
		{"allow in force, deny elsewhere in the day: syncs", "2026-12-07T10:00:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * *", 8*time.Hour), sw("lunch", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true}},
		{"two denies in force: blocked until the later ends", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("a", deny, "0 12 * * *", time.Hour), sw("b", deny, "0 11 * * *", 3*time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/a", Until: at("2026-12-07T14:00:00Z")}},
		{"a deny ending as another begins: blocked through both", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("a", deny, "0 12 * * *", time.Hour), sw("b", deny, "0 13 * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/a", Until: at("2026-12-07T14:00:00Z")}},
		{"overlapping occurrences extend the window", "2026-12-07T12:10:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0,30 12 * * *", 45*time.Minute)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/freeze", Until: at("2026-12-07T13:15:00Z")}},
		{"occurrences that never leave a gap: no end in sight", "2026-12-07T12:10:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("always", deny, "* * * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/always"}},
		{"a schedule read in its time zone: 09:00 in New York is 14:00 UTC", "2026-12-07T14:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("ny", deny, "0 9 * * *", time.Hour, zone("America/New_York"))}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/ny", Until: at("2026-12-07T15:00:00Z")}},
		{"a schedule read in its time zone: not at 09:00 UTC", "2026-12-07T09:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("ny", deny, "0 9 * * *", time.Hour, zone("America/New_York"))}, prod,
			Verdict{Selected: true}},
		// Berlin falls back from 03:00 CEST to 02:00 CET on 2026-10-25: a window opening at
		// 01:00 CEST (23:00 UTC) for two hours ends at 01:00 UTC, 02:00 CET, not at 03:00 on
		// the wall clock.
		{"DST: a duration is real time across the fall back", "2026-10-25T00:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("night", deny, "0 1 * * *", 2*time.Hour, zone("Europe/Berlin"))}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/night", Until: at("2026-10-25T01:00:00Z")}},
		{"DST: over at 02:30 CET although the wall clock reads 01:00 + 1h30", "2026-10-25T01:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("night", deny, "0 1 * * *", 2*time.Hour, zone("Europe/Berlin"))}, prod,
			Verdict{Selected: true}},
		{"manualSync on the deny in force allows requested syncs", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("freeze", deny, "0 12 * * *", time.Hour, manual)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", ManualAllowed: true, Window: "team/freeze", Until: at("2026-12-07T13:00:00Z")}},
		{"manualSync must be on every deny in force", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("a", deny, "0 12 * * *", time.Hour, manual), sw("b", deny, "0 12 * * *", time.Hour)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/a", Until: at("2026-12-07T13:00:00Z")}},
		{"outside an allow window with manualSync: requested syncs run", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * *", time.Hour, manual)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "OutsideAllowWindow", ManualAllowed: true, Window: "team/office", Until: at("2026-12-08T09:00:00Z")}},
		{"a deny with manualSync outside an allow without: no manual sync", "2026-12-07T12:30:00Z",
			[]gitopsv1alpha1.SyncWindow{sw("office", allow, "0 9 * * *", time.Hour), sw("lunch", deny, "0 12 * * *", time.Hour, manual)}, prod,
			Verdict{Selected: true, Blocked: true, Reason: "DenyWindow", Window: "team/lunch", Until: at("2026-12-08T09:00:00Z")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Evaluate(at(tc.now), tc.windows, tc.labels)
			if !got.Until.Equal(tc.want.Until) {
				t.Errorf("Until = %v, want %v", got.Until.UTC(), tc.want.Until)
			}
			got.Until, tc.want.Until = time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("Evaluate = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestParseSchedule: five cron fields only, the time zone in spec.timeZone.
func TestParseSchedule(t *testing.T) {
	for _, tc := range []struct {
		schedule, tz, wantErr string
	}{
		{"0 9 * * 1-5", "Europe/Berlin", ""},
		{"*/15 * * * *", "", ""},
		{"0 9 * *", "UTC", "expected exactly 5 fields"},
		{"0 0 9 * * *", "UTC", "expected exactly 5 fields"},
		{"@daily", "UTC", "not a descriptor"},
		{"@every 1h", "UTC", "not a descriptor"},
		{"CRON_TZ=Asia/Tokyo 0 9 * * *", "UTC", "spec.timeZone"},
		{"0 25 * * *", "UTC", "above maximum"},
		{"0 9 * * *", "Mars/Olympus", "not an IANA time zone"},
	} {
		_, err := ParseSchedule(tc.schedule, tc.tz)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q in %q: %v", tc.schedule, tc.tz, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q in %q: want an error saying %q, got %v", tc.schedule, tc.tz, tc.wantErr, err)
		}
	}
}
