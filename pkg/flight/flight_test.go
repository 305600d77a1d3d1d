package flight_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-gitops/ferry/pkg/flight"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// TestOneCallerLeavingDoesNotStopTheOthers: the caller that started the work goes away; the
// work goes on for the one still waiting, which gets its result.
func TestOneCallerLeavingDoesNotStopTheOthers(t *testing.T) {
	var g flight.Group
	var runs atomic.Int32
	release := make(chan struct{})
	work := func(ctx context.Context) (any, error) {
		runs.Add(1)
		select {
		case <-release:
			return "done", nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	first, leave := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := g.Do(first, "k", work)
		firstErr <- err
	}()
	eventually.Until(t, 10*time.Second, time.Millisecond, "the first caller started the work", func() (bool, string) {
		return runs.Load() == 1, "no run yet"
	})
	second := make(chan any, 1)
	go func() {
		v, err := g.Do(context.Background(), "k", work)
		if err != nil {
			v = err
		}
		second <- v
	}()
	eventually.Until(t, 10*time.Second, time.Millisecond, "the second caller joined the work", func() (bool, string) {
		return g.Waiting("k") == 2, "not yet"
	})
	leave()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller that left got %v, want its own context's error", err)
	}
	close(release)
	if v := <-second; v != "done" {
		t.Errorf("the caller still waiting got %v, want the work's result", v)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the work ran %d times, want once: the first caller leaving stopped it", n)
	}
}

// TestTheWorkStopsWhenTheLastCallerLeaves: with nobody waiting any more, the work's context is
// cancelled, and the next caller starts it anew.
func TestTheWorkStopsWhenTheLastCallerLeaves(t *testing.T) {
	var g flight.Group
	stopped := make(chan struct{})
	started := make(chan struct{}, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := g.Do(ctx, "k", func(ctx context.Context) (any, error) {
				started <- struct{}{}
				<-ctx.Done()
				close(stopped)
				return nil, ctx.Err()
			})
			done <- err
		}()
	}
	<-started
	cancel()
	for i := 0; i < 2; i++ {
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("caller %d got %v", i, err)
		}
	}
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("the work went on after every caller had left")
	}
	if len(started) != 0 {
		t.Errorf("two callers at once started the work twice")
	}
	v, err := g.Do(context.Background(), "k", func(context.Context) (any, error) { return "again", nil })
	if err != nil || v != "again" {
		t.Errorf("a caller after the cancelled work got %v, %v; want the work run anew", v, err)
	}
}

// TestAPanicReachesEveryCaller: the work's panic is raised in each caller's goroutine, where its
// recovery boundary is, instead of crashing the process from the work's own goroutine.
func TestAPanicReachesEveryCaller(t *testing.T) {
	var g flight.Group
	defer func() {
		if r := recover(); r != "boom" {
			t.Errorf("recovered %v, want the work's panic", r)
		}
	}()
	_, _ = g.Do(context.Background(), "k", func(context.Context) (any, error) { panic("boom") })
	t.Error("Do returned after the work panicked")
}
