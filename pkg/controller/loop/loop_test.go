package loop

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/ktesting"

	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// newQueue is a real rate-limited workqueue whose backoff is short, so that retries come
// quickly.
func newQueue(t *testing.T) workqueue.TypedRateLimitingInterface[string] {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 50*time.Millisecond))
	t.Cleanup(q.ShutDown)
	return q
}

// start runs the loop with the test's context until the test ends, and returns a channel
// closed when Run returned.
func start(t *testing.T, q workqueue.TypedRateLimitingInterface[string], reconcile Reconcile, opts Options) (cancel func(), done <-chan struct{}) {
	return startWith(t.Context(), t, q, reconcile, opts)
}

func startWith(ctx context.Context, t *testing.T, q workqueue.TypedRateLimitingInterface[string], reconcile Reconcile, opts Options) (cancel func(), done <-chan struct{}) {
	ctx, cancel = context.WithCancel(ctx)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		if err := Run(ctx, q, reconcile, opts); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		q.ShutDown() // also when the test failed because Run does not
		<-returned
	})
	return cancel, returned
}

// counter counts reconciles per key.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
	return c.n[key]
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// notes records what the loop's hooks were told, from its workers.
type notes struct {
	mu   sync.Mutex
	seen []string
}

func (n *notes) add(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.seen = append(n.seen, fmt.Sprintf(format, args...))
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fmt.Sprintf("%q", n.seen)
}

// TestAFailedKeyIsRetriedUntilItSucceeds: a reconcile that fails is tried again (an object whose
// status write failed is not left as it is until someone edits it), each failure is reported
// with the key, and the success that ends it resets the key's backoff.
func TestAFailedKeyIsRetriedUntilItSucceeds(t *testing.T) {
	q := newQueue(t)
	var calls counter
	var failed notes
	start(t, q, func(_ context.Context, key string) (Result, error) {
		if calls.inc(key) <= 3 {
			return Result{}, fmt.Errorf("attempt %d failed", calls.get(key))
		}
		return Result{}, nil
	}, Options{Workers: 2, Failed: func(_ context.Context, key string, err error) {
		failed.add("%s: %v", key, err)
	}})
	q.Add("ns/app")

	eventually.Until(t, 10*time.Second, time.Millisecond, "ns/app reconciled until it succeeds", func() (bool, string) {
		n := calls.get("ns/app")
		return n == 4 && q.NumRequeues("ns/app") == 0, fmt.Sprintf("%d reconciles, %d requeues", n, q.NumRequeues("ns/app"))
	})
	if got, want := failed.String(), `["ns/app: attempt 1 failed" "ns/app: attempt 2 failed" "ns/app: attempt 3 failed"]`; got != want {
		t.Errorf("failures reported: %s, want %s", got, want)
	}
}

// TestAFailureIsLoggedWithItsKey: without a Failed hook, a failed reconcile is logged at V(2)
// with the key under the controller's name for it, and the reconcile itself logs with it too.
func TestAFailureIsLoggedWithItsKey(t *testing.T) {
	logger := ktesting.NewLogger(t, ktesting.NewConfig(ktesting.Verbosity(2), ktesting.BufferLogs(true)))
	q := newQueue(t)
	var calls counter
	startWith(klog.NewContext(t.Context(), logger), t, q, func(ctx context.Context, key string) (Result, error) {
		if calls.inc(key) == 1 {
			klog.FromContext(ctx).Info("Probing")
			return Result{}, errors.New("connection refused")
		}
		return Result{}, nil
	}, Options{KeyName: "cluster"})
	q.Add("east")

	eventually.Until(t, 10*time.Second, time.Millisecond, "east retried", func() (bool, string) {
		return calls.get("east") == 2, fmt.Sprintf("%d reconciles", calls.get("east"))
	})
	var probing, failure bool
	for _, entry := range logger.GetSink().(ktesting.Underlier).GetBuffer().Data() {
		withKey := fmt.Sprint(entry.WithKVList) == "[cluster east]"
		switch entry.Message {
		case "Probing":
			probing = withKey
		case "Reconcile failed; retrying":
			failure = withKey && entry.Verbosity == 2 && fmt.Sprint(entry.ParameterKVList) == "[err connection refused]"
		}
	}
	if !probing || !failure {
		t.Errorf("the reconcile's log (%v) and the failure's (%v) do not both carry cluster=east:\n%s",
			probing, failure, logger.GetSink().(ktesting.Underlier).GetBuffer().String())
	}
}

// TestASuccessWithRequeueAfterIsReconciledAgain: a reconcile that asks to be looked at again
// (an Application's interval, a Cluster's next probe) is, and the controller is told when.
func TestASuccessWithRequeueAfterIsReconciledAgain(t *testing.T) {
	q := newQueue(t)
	var calls counter
	var requeued notes
	start(t, q, func(_ context.Context, key string) (Result, error) {
		if calls.inc(key) == 1 {
			return Result{RequeueAfter: 20 * time.Millisecond}, nil
		}
		return Result{}, nil
	}, Options{Requeued: func(key string, after time.Duration) {
		requeued.add("%s after %s", key, after)
	}})
	q.Add("ns/set")

	eventually.Until(t, 10*time.Second, time.Millisecond, "ns/set reconciled again", func() (bool, string) {
		return calls.get("ns/set") == 2, fmt.Sprintf("%d reconciles", calls.get("ns/set"))
	})
	if got, want := requeued.String(), `["ns/set after 20ms"]`; got != want {
		t.Errorf("requeues reported: %s, want %s", got, want)
	}
}

// inFlight tracks the reconciles running now, and the most ever running for one key.
type inFlight struct {
	mu        sync.Mutex
	running   map[string]int
	total     int
	perKeyMax int
}

func (f *inFlight) enter(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[key]++
	f.total++
	f.perKeyMax = max(f.perKeyMax, f.running[key])
}

func (f *inFlight) leave(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[key]--
	f.total--
}

func (f *inFlight) state() (total, perKeyMax int, running string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.total, f.perKeyMax, fmt.Sprint(f.running)
}

// TestWorkersReconcileAtOnceButNeverOneKeyTwice: with N workers, N keys are reconciled at once
// (one slow cluster does not hold the others back), but a key queued again while it is being
// reconciled waits for that reconcile to end, even with a worker idle.
func TestWorkersReconcileAtOnceButNeverOneKeyTwice(t *testing.T) {
	const workers = 4
	q := newQueue(t)
	var calls counter
	flight := &inFlight{running: map[string]int{}}
	release := make(chan struct{})
	start(t, q, func(_ context.Context, key string) (Result, error) {
		flight.enter(key)
		defer flight.leave(key)
		if calls.inc(key) == 1 {
			<-release
		}
		return Result{}, nil
	}, Options{Workers: workers})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(releaseAll) // before the loop's own cleanup waits for its workers

	for _, key := range []string{"a", "b", "c"} {
		q.Add(key)
	}
	eventually.Until(t, 10*time.Second, time.Millisecond, "a, b and c reconciled at once", func() (bool, string) {
		total, _, running := flight.state()
		return total == 3, running
	})
	// "a" again, then "d": the idle worker takes "d", as "a" waits for its running reconcile.
	q.Add("a")
	q.Add("d")
	eventually.Until(t, 10*time.Second, time.Millisecond, "the fourth worker reconciled d", func() (bool, string) {
		return calls.get("d") == 1, fmt.Sprintf("d reconciled %d times", calls.get("d"))
	})
	if _, perKeyMax, running := flight.state(); perKeyMax != 1 {
		t.Fatalf("one key was reconciled %d times at once: %s", perKeyMax, running)
	}
	releaseAll()
	eventually.Until(t, 10*time.Second, time.Millisecond, "a reconciled again once its first reconcile ended", func() (bool, string) {
		return calls.get("a") == 2, fmt.Sprintf("a reconciled %d times", calls.get("a"))
	})
	if _, perKeyMax, running := flight.state(); perKeyMax != 1 {
		t.Errorf("one key was reconciled %d times at once: %s", perKeyMax, running)
	}
}

// TestRunStopsWithItsContext: when the controller stops (a leader's term ends, the server shuts
// down), Run shuts the queue down and returns only after the reconciles running have ended, so
// that nothing of the old term writes after it.
func TestRunStopsWithItsContext(t *testing.T) {
	q := newQueue(t)
	started := make(chan struct{})
	var mu sync.Mutex
	ended := false
	cancel, returned := start(t, q, func(ctx context.Context, _ string) (Result, error) {
		close(started)
		<-ctx.Done()
		// Still writing a status when the term ends.
		mu.Lock()
		defer mu.Unlock()
		ended = true
		return Result{}, nil
	}, Options{Workers: 2})
	q.Add("ns/app")
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("ns/app was never reconciled")
	}

	cancel()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !q.ShuttingDown() {
		t.Error("Run returned with its queue still open")
	}
	mu.Lock()
	defer mu.Unlock()
	if !ended {
		t.Error("Run returned while a reconcile was still running")
	}
}

// TestRunStopsBeforeTheInformersSynced: a controller stopped before its informers synced (a
// term lost at once) returns, says why, and reconciles nothing.
func TestRunStopsBeforeTheInformersSynced(t *testing.T) {
	q := newQueue(t)
	q.Add("ns/app")
	var calls counter
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := Run(ctx, q, func(_ context.Context, key string) (Result, error) {
		calls.inc(key)
		return Result{}, nil
	}, Options{Synced: []cache.InformerSynced{func() bool { return false }}})
	if err == nil || err.Error() != "the informers did not sync" {
		t.Errorf("Run returned %v, want that the informers did not sync", err)
	}
	if !q.ShuttingDown() {
		t.Error("Run returned with its queue still open")
	}
	if n := calls.get("ns/app"); n != 0 {
		t.Errorf("ns/app was reconciled %d times before the informers synced", n)
	}
}
