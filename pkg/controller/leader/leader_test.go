package leader

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	k8stesting "k8s.io/client-go/testing"

	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

const (
	testNamespace = "ferry-system"
	// waitTimeout bounds every wait; the elections below take about a second.
	waitTimeout = 30 * time.Second
)

// newClientset is a fake clientset whose Leases have optimistic concurrency as a real API
// server's do (the fake tracker has none): an update with a stale resourceVersion conflicts,
// so two candidates can never both win one round.
func newClientset() *fake.Clientset {
	cs := fake.NewClientset()
	var mu sync.Mutex
	cs.PrependReactor("*", "leases", func(action k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		switch action.GetVerb() {
		case "create":
			action.(k8stesting.CreateAction).GetObject().(*coordv1.Lease).ResourceVersion = "1"
		case "update":
			lease := action.(k8stesting.UpdateAction).GetObject().(*coordv1.Lease)
			cur, err := cs.Tracker().Get(coordv1.SchemeGroupVersion.WithResource("leases"), lease.Namespace, lease.Name)
			if err != nil {
				return true, nil, err
			}
			rv := cur.(*coordv1.Lease).ResourceVersion
			if lease.ResourceVersion != rv {
				return true, nil, apierrors.NewConflict(coordv1.Resource("leases"), lease.Name, errors.New("stale resourceVersion"))
			}
			n, _ := strconv.Atoi(rv)
			lease.ResourceVersion = strconv.Itoa(n + 1)
		}
		return false, nil, nil
	})
	return cs
}

// flakyLeases fails every update while failing is set, as an unreachable API server would.
type flakyLeases struct {
	coordinationv1.LeasesGetter
	failing atomic.Bool
}

func (f *flakyLeases) Leases(namespace string) coordinationv1.LeaseInterface {
	return flakyLease{f.LeasesGetter.Leases(namespace), f}
}

type flakyLease struct {
	coordinationv1.LeaseInterface
	f *flakyLeases
}

func (l flakyLease) Update(ctx context.Context, lease *coordv1.Lease, opts metav1.UpdateOptions) (*coordv1.Lease, error) {
	if l.f.failing.Load() {
		return nil, errors.New("injected: the API server is unreachable")
	}
	return l.LeaseInterface.Update(ctx, lease, opts)
}

// candidates records which candidates lead, and fails the test if two ever lead at once.
type candidates struct {
	t      *testing.T
	mu     sync.Mutex
	active string         // the candidate whose lead function runs, "" for none
	terms  map[string]int // terms started per candidate
	change chan struct{}  // closed and replaced at every change
}

func newCandidates(t *testing.T) *candidates {
	return &candidates{t: t, terms: map[string]int{}, change: make(chan struct{})}
}

// lead is the work function of candidate id: it holds the "active" slot until its context is
// done and takes a moment to wind down, as a controller finishing its reconciles does.
func (c *candidates) lead(id string) func(context.Context) {
	return func(ctx context.Context) {
		c.mu.Lock()
		if c.active != "" {
			c.t.Errorf("%s started leading while %s still leads", id, c.active)
		}
		c.active = id
		c.terms[id]++
		c.notify()
		c.mu.Unlock()

		<-ctx.Done()
		time.Sleep(50 * time.Millisecond)

		c.mu.Lock()
		c.active = ""
		c.notify()
		c.mu.Unlock()
	}
}

func (c *candidates) notify() {
	close(c.change)
	c.change = make(chan struct{})
}

// waitFor waits until cond holds of (active, terms).
func (c *candidates) waitFor(what string, cond func(active string, terms map[string]int) bool) {
	c.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		c.mu.Lock()
		ok := cond(c.active, c.terms)
		ch := c.change
		active, terms := c.active, map[string]int{}
		for k, v := range c.terms {
			terms[k] = v
		}
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			c.t.Fatalf("%s: not within %s; active %q, terms %v", what, waitTimeout, active, terms)
		}
	}
}

func config(client coordinationv1.LeasesGetter, id string) Config {
	return Config{
		Client: client, Namespace: testNamespace, Name: DefaultLeaseName, Identity: id,
		LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond,
	}
}

// start runs a candidate until the returned stop function is called; stop waits for Run.
func start(t *testing.T, cfg Config, lead func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg, lead) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run(%s): %v", cfg.Identity, err)
				}
			case <-time.After(waitTimeout):
				t.Errorf("Run(%s) did not return after its context was cancelled", cfg.Identity)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func holder(t *testing.T, cs *fake.Clientset) (string, string) {
	t.Helper()
	lease, err := cs.CoordinationV1().Leases(testNamespace).Get(context.Background(), DefaultLeaseName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return ptrString(lease.Spec.HolderIdentity), lease.ResourceVersion
}

func ptrString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// waitForHolder polls the Lease until its holder is id and it has been written at least
// `renewals` more times after id was first seen.
func waitForHolder(t *testing.T, cs *fake.Clientset, id string, renewals int) {
	t.Helper()
	seen, last := -1, ""
	eventually.Until(t, waitTimeout, 20*time.Millisecond, fmt.Sprintf("the Lease held by %q and renewed %d times", id, renewals), func() (bool, string) {
		h, rv := holder(t, cs)
		if h == id && rv != last {
			seen++
			last = rv
		}
		return seen >= renewals, fmt.Sprintf("held by %q, renewals seen %d", h, seen)
	})
}

// Two candidates: exactly one leads while the other keeps waiting through several renewals;
// when the leader shuts down it releases the Lease after its work stopped, and the other takes
// over.
func TestOneLeaderThenHandoverOnShutdown(t *testing.T) {
	cs := newClientset()
	c := newCandidates(t)
	stops := map[string]func(){
		"a": start(t, config(cs.CoordinationV1(), "a"), c.lead("a")),
		"b": start(t, config(cs.CoordinationV1(), "b"), c.lead("b")),
	}
	var first string
	c.waitFor("one candidate leads", func(active string, _ map[string]int) bool {
		first = active
		return active != ""
	})
	second := map[string]string{"a": "b", "b": "a"}[first]
	waitForHolder(t, cs, first, 3)
	c.waitFor("the leader keeps leading, alone", func(active string, terms map[string]int) bool {
		if terms[second] != 0 {
			t.Fatalf("%s led while %s held the Lease", second, first)
		}
		return active == first
	})

	stops[first]()
	c.waitFor(second+" takes over", func(active string, terms map[string]int) bool {
		return active == second && terms[first] == 1 && terms[second] == 1
	})
	waitForHolder(t, cs, second, 0)
}

// A leader that cannot renew stops leading; another candidate takes over once the Lease has
// expired; and the first one, still competing, leads again after the second shuts down.
func TestLeadsAgainAfterLosingTheLease(t *testing.T) {
	cs := newClientset()
	c := newCandidates(t)
	flaky := &flakyLeases{LeasesGetter: cs.CoordinationV1()}
	start(t, config(flaky, "a"), c.lead("a"))
	c.waitFor("a leads", func(active string, _ map[string]int) bool { return active == "a" })

	stopB := start(t, config(cs.CoordinationV1(), "b"), c.lead("b"))
	waitForHolder(t, cs, "a", 2)
	flaky.failing.Store(true)
	c.waitFor("b takes over from a, which cannot renew", func(active string, _ map[string]int) bool { return active == "b" })
	waitForHolder(t, cs, "b", 0)

	flaky.failing.Store(false)
	stopB()
	c.waitFor("a leads again", func(active string, terms map[string]int) bool {
		return active == "a" && terms["a"] == 2 && terms["b"] == 1
	})
}

// When the work function returns by itself the term ends and the Lease is released, so that
// another candidate can lead.
func TestReturningLeadReleasesTheLease(t *testing.T) {
	cs := newClientset()
	c := newCandidates(t)
	quit := make(chan struct{})
	start(t, config(cs.CoordinationV1(), "a"), func(ctx context.Context) {
		select {
		case <-quit:
		case <-ctx.Done():
		}
	})
	waitForHolder(t, cs, "a", 0)
	start(t, config(cs.CoordinationV1(), "b"), c.lead("b"))
	waitForHolder(t, cs, "a", 2)
	close(quit)
	c.waitFor("b leads", func(active string, _ map[string]int) bool { return active == "b" })
}

func TestRunRejectsBadConfig(t *testing.T) {
	cs := newClientset()
	cfg := config(cs.CoordinationV1(), "a")
	cfg.RenewDeadline = cfg.LeaseDuration
	if err := Run(context.Background(), cfg, func(context.Context) {}); err == nil {
		t.Error("a renew deadline as long as the lease duration was accepted")
	}
	cfg = config(cs.CoordinationV1(), "")
	if err := Run(context.Background(), cfg, func(context.Context) {}); err == nil {
		t.Error("an empty identity was accepted")
	}
	if err := ValidateTimings(500*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond); err == nil {
		t.Error("a lease duration under 1s was accepted (the Lease stores whole seconds)")
	}
	if err := ValidateTimings(DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}
