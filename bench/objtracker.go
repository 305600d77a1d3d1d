package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// objTracker follows the objects of one resource in one namespace through a watch, whatever
// their kind (Ferry's, Flux's or Argo CD's), so that waits are timed from the event that made
// them hold rather than from polls.
type objTracker struct {
	mu     sync.Mutex
	objs   map[string]*unstructured.Unstructured
	seenAt map[string]time.Time
	notify chan struct{} // closed and replaced on every event
	hook   func(u *unstructured.Unstructured, at time.Time)
}

// trackObjects lists the resource and follows it until ctx ends, watching again from the last
// resourceVersion whenever a watch closes.
func trackObjects(ctx context.Context, res dynamic.ResourceInterface) (*objTracker, error) {
	list, err := res.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	t := &objTracker{objs: map[string]*unstructured.Unstructured{}, seenAt: map[string]time.Time{}, notify: make(chan struct{})}
	for i := range list.Items {
		t.objs[list.Items[i].GetName()] = &list.Items[i]
	}
	rv := list.GetResourceVersion()
	w, err := res.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				u, ok := ev.Object.(*unstructured.Unstructured)
				if !ok {
					continue
				}
				rv = u.GetResourceVersion()
				now := time.Now()
				t.mu.Lock()
				if ev.Type == watch.Deleted {
					delete(t.objs, u.GetName())
				} else {
					t.objs[u.GetName()] = u
				}
				t.seenAt[u.GetName()] = now
				if t.hook != nil {
					t.hook(u, now)
				}
				close(t.notify)
				t.notify = make(chan struct{})
				t.mu.Unlock()
			}
			for {
				if ctx.Err() != nil {
					return
				}
				if w, err = res.Watch(ctx, metav1.ListOptions{ResourceVersion: rv}); err == nil {
					break
				}
				select { // a short backoff before watching again
				case <-time.After(100 * time.Millisecond):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return t, nil
}

// onEvent calls hook with every object event from now on (nil: no more); hook runs under the
// tracker's lock and must not block.
func (t *objTracker) onEvent(hook func(u *unstructured.Unstructured, at time.Time)) {
	t.mu.Lock()
	t.hook = hook
	t.mu.Unlock()
}

// waitFor waits until done holds for the objects, logging progress every 5 s, and returns when
// the event that made it hold arrived.
func (t *objTracker) waitFor(ctx context.Context, timeout time.Duration, logf func(string, ...any), done func(map[string]*unstructured.Unstructured) (bool, string)) (time.Time, error) {
	return waitTracked(ctx, timeout, logf, func() (bool, string, time.Time, <-chan struct{}) {
		t.mu.Lock()
		defer t.mu.Unlock()
		ok, state := done(t.objs)
		return ok, state, newest(t.seenAt), t.notify
	})
}

// waitEach waits until each of names has been seen with reached true at least once, not
// necessarily all at the same moment, and returns when the last of them first was. A tool that
// looks at every app again on an interval (Flux) reports an app Ready at the revision and then,
// while it looks once more, Progressing: at 1,000 apps some are always being looked at, and
// "all Ready at once" may never be seen although every app was deployed and healthy.
func (t *objTracker) waitEach(ctx context.Context, timeout time.Duration, logf func(string, ...any), names []string, reached func(*unstructured.Unstructured) bool) (time.Time, error) {
	wanted := make(map[string]bool, len(names))
	for _, name := range names {
		wanted[name] = true
	}
	first := map[string]time.Time{}
	t.mu.Lock()
	for name := range wanted {
		if u := t.objs[name]; u != nil && reached(u) {
			first[name] = t.seenAt[name]
		}
	}
	t.mu.Unlock()
	t.onEvent(func(u *unstructured.Unstructured, at time.Time) {
		if name := u.GetName(); wanted[name] && reached(u) {
			if _, ok := first[name]; !ok {
				first[name] = at
			}
		}
	})
	defer t.onEvent(nil)
	return waitTracked(ctx, timeout, logf, func() (bool, string, time.Time, <-chan struct{}) {
		t.mu.Lock()
		defer t.mu.Unlock()
		return len(first) == len(wanted), fmt.Sprintf("%d of %d reached it", len(first), len(wanted)), newest(first), t.notify
	})
}
