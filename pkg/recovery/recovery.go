// Package recovery keeps one Application from taking ferry-apiserver down: a panic while
// reconciling, rendering or serving a read for an Application is recovered at that boundary and
// becomes an error of that Application alone, logged with its stack and counted in
// ferry_panics_total. Everything else the server does goes on.
package recovery

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
)

// Boundaries, the label values of ferry_panics_total.
const (
	Reconcile = "reconcile"
	Sync      = "sync"
	Resolve   = "resolve"
	Render    = "render"
	Read      = "read"
)

var (
	panicsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "ferry", Name: "panics_total",
		Help:           "Panics recovered while working on one Application, by boundary (reconcile, sync, resolve, render, read). Each is a bug of Ferry: the log has its stack.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"boundary"})
	registerOnce sync.Once
)

// Register adds ferry_panics_total to the server's /metrics; Guard calls it too. A boundary's
// series appears with its first panic.
func Register() {
	registerOnce.Do(func() { legacyregistry.MustRegister(panicsTotal) })
}

// PanicError is a recovered panic. Its message names the boundary and the panic's value, never
// the stack: messages reach conditions, Events and API responses, the stack only the log.
type PanicError struct {
	Boundary string
	Value    any
	Stack    []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error in Ferry (%s): %v; this is a bug, the server log has its stack, and Ferry retries", e.Boundary, e.Value)
}

// IsPanic reports whether err is, or wraps, a recovered panic.
func IsPanic(err error) bool {
	var p *PanicError
	return errors.As(err, &p)
}

// Guard runs fn and returns its error, or a *PanicError when fn panics: it logs the panic with
// its stack and the context's logger values (the Application), and counts it.
func Guard(ctx context.Context, boundary string, fn func() error) (err error) {
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		stack := debug.Stack()
		Register()
		panicsTotal.WithLabelValues(boundary).Inc()
		klog.FromContext(ctx).Error(nil, "Recovered from a panic; the server goes on", "boundary", boundary, "panic", fmt.Sprint(r), "stack", string(stack))
		err = &PanicError{Boundary: boundary, Value: r, Stack: stack}
	}()
	return fn()
}
