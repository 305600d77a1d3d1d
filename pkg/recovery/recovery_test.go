package recovery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"k8s.io/component-base/metrics/testutil"
)

func TestGuardTurnsAPanicIntoAnErrorWithoutItsStack(t *testing.T) {
	before, _ := testutil.GetCounterMetricValue(panicsTotal.WithLabelValues(Render))
	err := Guard(context.Background(), Render, func() error {
		var m map[string]int
		m["x"] = 1 //nolint:staticcheck // a nil map write: the runtime error a real bug would be
		return nil
	})
	var p *PanicError
	if !errors.As(err, &p) || !IsPanic(fmt.Errorf("wrapped: %w", err)) {
		t.Fatalf("Guard returned %v, want a *PanicError", err)
	}
	if !strings.Contains(err.Error(), "assignment to entry in nil map") || !strings.Contains(err.Error(), "render") {
		t.Errorf("the message %q does not name the panic and the boundary", err)
	}
	if strings.Contains(err.Error(), "goroutine") || strings.Contains(err.Error(), ".go:") {
		t.Errorf("the message carries the stack: %q", err)
	}
	if !strings.Contains(string(p.Stack), "recovery_test.go") {
		t.Errorf("the stack kept for the log does not show where the panic happened:\n%s", p.Stack)
	}
	after, _ := testutil.GetCounterMetricValue(panicsTotal.WithLabelValues(Render))
	if after != before+1 {
		t.Errorf("ferry_panics_total{boundary=render} went from %v to %v, want one more", before, after)
	}
}

func TestGuardPassesErrorsAndSuccessThrough(t *testing.T) {
	want := errors.New("git is down")
	if err := Guard(context.Background(), Resolve, func() error { return want }); err != want {
		t.Errorf("Guard changed an ordinary error into %v", err)
	}
	if err := Guard(context.Background(), Resolve, func() error { return nil }); err != nil {
		t.Errorf("Guard failed a success: %v", err)
	}
	if IsPanic(want) {
		t.Error("an ordinary error counts as a panic")
	}
}
