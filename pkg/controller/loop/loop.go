// Package loop is the worker loop every Ferry controller runs (sample-controller's runWorker
// and processNextWorkItem, written once): a number of workers take keys from a rate-limited
// workqueue and reconcile them; a failure is retried with the queue's backoff and never
// forgotten, a success resets the backoff and, when asked, looks at the key again later.
package loop

import (
	"context"
	"errors"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// Result tells the loop when to look at a key again after a successful reconcile.
type Result struct {
	// RequeueAfter, when positive, queues the key again after this long; zero waits for the
	// next event that queues it.
	RequeueAfter time.Duration
}

// Reconcile brings the object of key up to date. An error retries the key with the queue's
// backoff (the Result is then ignored).
type Reconcile func(ctx context.Context, key string) (Result, error)

// Options says how a controller's loop runs.
type Options struct {
	// Synced are the informers Run waits for before it starts the workers.
	Synced []cache.InformerSynced
	// Workers is how many keys are reconciled at once; below 1 means 1. The queue never hands
	// one key to two workers at once.
	Workers int
	// KeyName is the name the key is logged under ("application", "cluster"; empty: "key"):
	// every reconcile runs with a logger that carries it.
	KeyName string
	// Failed, when set, reports a failed reconcile in the controller's own way; nil logs the
	// error at V(2). The key is retried either way.
	Failed func(ctx context.Context, key string, err error)
	// Requeued, when set, is told of each key queued again after a success, and after how long.
	Requeued func(key string, after time.Duration)
}

// Run waits for the controller's informers to sync, then reconciles the keys of queue with
// opts.Workers workers until ctx is done; it then shuts the queue down and returns once every
// worker has finished its reconcile. The controller starts its informers before it calls Run.
// Run fails only when ctx ends before the informers have synced.
func Run(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], reconcile Reconcile, opts Options) error {
	defer utilruntime.HandleCrash()
	defer queue.ShutDown()
	if opts.KeyName == "" {
		opts.KeyName = "key"
	}
	logger := klog.FromContext(ctx)
	logger.Info("Waiting for the informers to sync")
	if !cache.WaitForCacheSync(ctx.Done(), opts.Synced...) {
		return errors.New("the informers did not sync")
	}
	workers := max(opts.Workers, 1)
	logger.Info("Workers started", "count", workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			// A worker returns only when the queue shuts down; Until also stops with ctx.
			wait.UntilWithContext(ctx, func(ctx context.Context) {
				for next(ctx, queue, reconcile, opts) {
				}
			}, time.Second)
		})
	}
	<-ctx.Done()
	queue.ShutDown()
	wg.Wait()
	return nil
}

// next reconciles one key; false when the queue has shut down.
func next(ctx context.Context, queue workqueue.TypedRateLimitingInterface[string], reconcile Reconcile, opts Options) bool {
	key, shutdown := queue.Get()
	if shutdown {
		return false
	}
	defer queue.Done(key)
	logger := klog.FromContext(ctx).WithValues(opts.KeyName, key)
	ctx = klog.NewContext(ctx, logger)

	result, err := reconcile(ctx, key)
	if err != nil {
		if opts.Failed != nil {
			opts.Failed(ctx, key, err)
		} else {
			logger.V(2).Info("Reconcile failed; retrying", "err", err)
		}
		// Never forget a key on an error: informers do not resync, so a forgotten object
		// would wait for someone to edit it.
		queue.AddRateLimited(key)
		return true
	}
	queue.Forget(key)
	if result.RequeueAfter > 0 {
		queue.AddAfter(key, result.RequeueAfter)
		if opts.Requeued != nil {
			opts.Requeued(key, result.RequeueAfter)
		}
	}
	return true
}
