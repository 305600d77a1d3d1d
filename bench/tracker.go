package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
)

// tracker follows the Applications of a namespace through a watch, recording when each last
// changed, so waits can be timed from events rather than from polls.
type tracker struct {
	mu     sync.Mutex
	apps   map[string]*gitopsv1alpha1.Application
	seenAt map[string]time.Time
	notify chan struct{} // closed and replaced on every event
	// modified counts MODIFIED events: every status write is one.
	modified atomic.Int64
}

// track lists the namespace's Applications and follows them until ctx ends, watching again
// from the last resourceVersion whenever a watch closes.
func track(ctx context.Context, client versioned.Interface, ns string) (*tracker, error) {
	apps := client.GitopsV1alpha1().Applications(ns)
	list, err := apps.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	t := &tracker{apps: map[string]*gitopsv1alpha1.Application{}, seenAt: map[string]time.Time{}, notify: make(chan struct{})}
	for i := range list.Items {
		t.apps[list.Items[i].Name] = &list.Items[i]
	}
	rv := list.ResourceVersion
	w, err := apps.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				app, ok := ev.Object.(*gitopsv1alpha1.Application)
				if !ok {
					continue
				}
				rv = app.ResourceVersion
				now := time.Now()
				t.mu.Lock()
				switch ev.Type {
				case watch.Deleted:
					delete(t.apps, app.Name)
				case watch.Modified:
					t.modified.Add(1)
					if debug && t.apps[app.Name] != nil {
						logStatusChange(t.apps[app.Name], app)
					}
					t.apps[app.Name] = app
				default:
					t.apps[app.Name] = app
				}
				t.seenAt[app.Name] = now
				close(t.notify)
				t.notify = make(chan struct{})
				t.mu.Unlock()
			}
			if ctx.Err() != nil {
				return
			}
			for {
				if w, err = apps.Watch(ctx, metav1.ListOptions{ResourceVersion: rv}); err == nil || ctx.Err() != nil {
					break
				}
				time.Sleep(100 * time.Millisecond) // a short backoff before watching again
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
	return t, nil
}

// waitFor waits until done holds for the Applications, logging progress every 5 s, and returns
// when the event that made it hold arrived.
func (t *tracker) waitFor(ctx context.Context, timeout time.Duration, logf func(string, ...any), done func(apps map[string]*gitopsv1alpha1.Application) (bool, string)) (time.Time, error) {
	return waitTracked(ctx, timeout, logf, func() (bool, string, time.Time, <-chan struct{}) {
		t.mu.Lock()
		defer t.mu.Unlock()
		ok, state := done(t.apps)
		return ok, state, newest(t.seenAt), t.notify
	})
}

// waitTracked is the wait of both trackers: check, which holds the tracker's lock, says whether
// the wait is over, the state to log, when the newest event arrived and the channel closed at the
// next one. It logs progress every 5 s and returns the newest event's time once check holds.
func waitTracked(ctx context.Context, timeout time.Duration, logf func(string, ...any), check func() (bool, string, time.Time, <-chan struct{})) (time.Time, error) {
	deadline := time.After(timeout)
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for {
		ok, state, last, notify := check()
		if ok {
			return last, nil
		}
		select {
		case <-notify:
		case <-progress.C:
			logf("  %s", state)
		case <-deadline:
			return time.Time{}, fmt.Errorf("not done after %s: %s", timeout, state)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// newest is the latest of the times.
func newest(times map[string]time.Time) time.Time {
	var last time.Time
	for _, at := range times {
		if at.After(last) {
			last = at
		}
	}
	return last
}

// waitApp waits until done holds for one Application and returns when its event arrived.
func (t *tracker) waitApp(ctx context.Context, name string, timeout time.Duration, done func(*gitopsv1alpha1.Application) bool) (time.Time, error) {
	deadline := time.After(timeout)
	for {
		t.mu.Lock()
		app, at, notify := t.apps[name], t.seenAt[name], t.notify
		t.mu.Unlock()
		if app != nil && done(app) {
			return at, nil
		}
		select {
		case <-notify:
		case <-deadline:
			state := "missing"
			if app != nil {
				state = fmt.Sprintf("sync %s, health %s, revision %.12s", app.Status.Sync.Status, app.Status.Health.Status, app.Status.Sync.Revision)
			}
			return time.Time{}, fmt.Errorf("the Application %s is not as expected after %s: %s", name, timeout, state)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// debug (FERRY_BENCH_DEBUG=1) logs what changed in the status of every modified Application.
var debug = os.Getenv("FERRY_BENCH_DEBUG") != ""

func logStatusChange(old, cur *gitopsv1alpha1.Application) {
	a, _ := json.Marshal(old.Status)
	b, _ := json.Marshal(cur.Status)
	var am, bm map[string]any
	_ = json.Unmarshal(a, &am)
	_ = json.Unmarshal(b, &bm)
	for k, v := range bm {
		if !reflect.DeepEqual(am[k], v) {
			fmt.Fprintf(os.Stderr, "debug: %s status.%s: %v -> %v\n", cur.Name, k, am[k], v)
		}
	}
}
