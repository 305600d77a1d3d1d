// Package flight shares one piece of work among the callers that ask for it at the same time,
// like golang.org/x/sync/singleflight, and stops it once none of them waits for it any more.
//
// With singleflight the work runs with the context of the caller that started it: when that
// caller goes away, every other caller fails with it; and detaching the work from the callers
// (context.WithoutCancel) lets it run on after all of them have gone, which no client, and no
// API Priority and Fairness, then bounds. Here each caller waits under its own context, and the
// work's context ends when the last of them has left.
package flight

import (
	"context"
	"sync"
)

// Group runs one piece of work per key at a time. The zero Group is ready for use.
type Group struct {
	mu    sync.Mutex
	calls map[string]*call
}

// call is one piece of work and who waits for it.
type call struct {
	done chan struct{}
	val  any
	err  error
	// panicked is what fn panicked with: each caller panics with it in its own goroutine, where
	// its recovery boundary (package recovery) handles it, as with singleflight.Do.
	panicked any
	waiters  int
	cancel   context.CancelFunc
}

// Do runs fn once among the callers of the same key at the same time and returns its result to
// each of them, or the caller's context's error when that ends first. fn's context carries the
// values of the context of the caller that started it, and is cancelled once every caller has
// left (or fn has returned); a caller arriving after that starts the work anew.
func (g *Group) Do(ctx context.Context, key string, fn func(ctx context.Context) (any, error)) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*call{}
	}
	c, ok := g.calls[key]
	if ok {
		c.waiters++
	} else {
		workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call{done: make(chan struct{}), waiters: 1, cancel: cancel}
		g.calls[key] = c
		go g.run(workCtx, key, c, fn)
	}
	g.mu.Unlock()

	select {
	case <-c.done:
		if c.panicked != nil {
			panic(c.panicked)
		}
		return c.val, c.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	c.waiters--
	if c.waiters == 0 {
		// Nobody waits any more: the work stops, and the next caller starts afresh rather than
		// joining work that is being cancelled.
		c.cancel()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
	}
	g.mu.Unlock()
	return nil, ctx.Err()
}

func (g *Group) run(ctx context.Context, key string, c *call, fn func(ctx context.Context) (any, error)) {
	defer func() {
		g.mu.Lock()
		if g.calls[key] == c {
			delete(g.calls, key)
		}
		g.mu.Unlock()
		c.cancel()
		close(c.done)
	}()
	defer func() {
		if r := recover(); r != nil {
			c.panicked = r
		}
	}()
	c.val, c.err = fn(ctx)
}

// Waiting is how many callers wait for the work of key, for tests.
func (g *Group) Waiting(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c.waiters
	}
	return 0
}
