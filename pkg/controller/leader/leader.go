// Package leader elects the one active controller among the replicas of ferry-apiserver. Every
// replica serves the API; only the holder of a coordination.k8s.io Lease in the target cluster
// reconciles. It wraps client-go's leaderelection with what Ferry needs on top: leading is a
// term that ends when the lease is lost, when the work function returns or at shutdown, and a
// replica whose term ended competes again, so it can lead later.
package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Defaults of the election, the same as Kubernetes' own controllers use.
const (
	DefaultLeaseName     = "ferry-controller"
	DefaultNamespace     = "ferry-system"
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Config is one election.
type Config struct {
	// Client reads and writes the Lease. Its requests should time out well within
	// RenewDeadline, so that one hung request does not cost the lease (see ClientTimeout).
	Client coordinationv1.LeasesGetter
	// Namespace and Name of the Lease.
	Namespace, Name string
	// Identity names this replica in the Lease's spec.holderIdentity; unique per process.
	Identity string
	// LeaseDuration is how long the others wait after the last renewal before they take over.
	LeaseDuration time.Duration
	// RenewDeadline is how long the leader tries to renew before it gives up leading.
	RenewDeadline time.Duration
	// RetryPeriod is the time between attempts to acquire or renew.
	RetryPeriod time.Duration
}

// ValidateTimings checks the durations of an election: the Lease records its duration in whole
// seconds, and the leader must give up (RenewDeadline) before the others take over
// (LeaseDuration).
func ValidateTimings(leaseDuration, renewDeadline, retryPeriod time.Duration) error {
	var errs []error
	if leaseDuration < time.Second {
		errs = append(errs, fmt.Errorf("the lease duration %s must be at least 1s", leaseDuration))
	}
	if leaseDuration <= renewDeadline {
		errs = append(errs, fmt.Errorf("the lease duration %s must be longer than the renew deadline %s", leaseDuration, renewDeadline))
	}
	if retryPeriod <= 0 {
		errs = append(errs, fmt.Errorf("the retry period %s must be positive", retryPeriod))
	}
	if renewDeadline <= time.Duration(leaderelection.JitterFactor*float64(retryPeriod)) {
		errs = append(errs, fmt.Errorf("the renew deadline %s must be longer than %.1f times the retry period %s",
			renewDeadline, leaderelection.JitterFactor, retryPeriod))
	}
	return errors.Join(errs...)
}

// ClientTimeout is the request timeout for the Lease client of an election with renewDeadline,
// as client-go's resourcelock.NewFromKubeconfig chooses it.
func ClientTimeout(renewDeadline time.Duration) time.Duration {
	return max(time.Second, renewDeadline/2)
}

// DefaultIdentity is the host name, an underscore and a random suffix, so that two processes on
// one host (or a restarted one) never share an identity.
func DefaultIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ferry-apiserver"
	}
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}

// Run competes for the Lease until ctx is done. Each time this replica acquires it, lead runs
// with a context that is cancelled when the lease is lost or ctx is done; lead must then return
// promptly. A term ends when lead returns; the Lease is released (so another replica takes over
// at once instead of after LeaseDuration) only after lead has returned, and Run competes again
// unless ctx is done. Run returns nil when ctx is done, or an error for an invalid Config.
//
// It logs "Became the active controller" when a term starts and "Stopped leading" when it ends.
func Run(ctx context.Context, cfg Config, lead func(ctx context.Context)) error {
	if cfg.Client == nil || cfg.Namespace == "" || cfg.Name == "" || cfg.Identity == "" {
		return errors.New("leader: Client, Namespace, Name and Identity are required")
	}
	if err := ValidateTimings(cfg.LeaseDuration, cfg.RenewDeadline, cfg.RetryPeriod); err != nil {
		return fmt.Errorf("leader: %w", err)
	}
	lease := cfg.Namespace + "/" + cfg.Name
	logger := klog.FromContext(ctx).WithValues("identity", cfg.Identity, "lease", lease)
	ctx = klog.NewContext(ctx, logger)
	logger.Info("Competing to be the active controller")
	for {
		led, err := term(ctx, cfg, lead)
		if err != nil {
			return err
		}
		if led {
			reason := "lost the lease"
			if ctx.Err() != nil {
				reason = "shutting down"
			}
			logger.Info("Stopped leading", "reason", reason)
		}
		// Let another replica have the lease before competing again, and never spin.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(cfg.RetryPeriod):
		}
	}
}

// term acquires the Lease once, runs lead while it is held and returns when the term is over
// (or when ctx is done before it began), reporting whether lead ran.
func term(ctx context.Context, cfg Config, lead func(context.Context)) (bool, error) {
	logger := klog.FromContext(ctx)
	// The elector's context outlives ctx while lead runs: cancelling it releases the Lease
	// (ReleaseOnCancel), which must wait until lead has stopped.
	electCtx, endTerm := context.WithCancel(context.WithoutCancel(ctx))
	defer endTerm()

	var (
		mu      sync.Mutex
		leading bool
		done    = make(chan struct{}) // closed when lead has returned
	)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Client,
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            cfg.Name,
		LeaseDuration:   cfg.LeaseDuration,
		RenewDeadline:   cfg.RenewDeadline,
		RetryPeriod:     cfg.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leCtx context.Context) {
				defer endTerm() // lead returned on its own: give the lease up
				mu.Lock()
				// The term may be over already: the lease lost at once, or shutdown. Checked
				// under mu so that term either waits for lead or lead never starts.
				if ctx.Err() != nil || leCtx.Err() != nil {
					mu.Unlock()
					return
				}
				leading = true
				mu.Unlock()
				defer close(done)

				leadCtx, cancel := context.WithCancel(leCtx)
				defer cancel()
				stop := context.AfterFunc(ctx, cancel)
				defer stop()
				logger.Info("Became the active controller")
				lead(leadCtx)
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return false, fmt.Errorf("leader: %w", err)
	}
	// At shutdown a replica that is not leading stops competing at once; a leader's term ends
	// when lead has returned (its context is cancelled with ctx).
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !leading {
			endTerm()
		}
	})
	defer stop()

	elector.Run(electCtx)

	mu.Lock()
	led := leading
	mu.Unlock()
	if led {
		<-done
	}
	return led, nil
}
