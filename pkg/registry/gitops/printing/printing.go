// Package printing holds what the server-side table printers of Ferry's resources share.
package printing

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Age prints the time since t as kubectl does ("5m", "2d3h").
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(metav1.Now().Sub(t.Time))
}

// Truncate bounds s to n runes, marking a cut with an ellipsis.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// OrUnknown prints an empty status as "Unknown".
func OrUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}
