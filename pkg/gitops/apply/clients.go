package apply

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling"
	"github.com/fluxcd/pkg/ssa"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// Applier applies objects to one cluster. Appliers for impersonated identities are derived
// with As and share nothing but the base configuration.
type Applier struct {
	base *rest.Config

	mu       sync.Mutex
	managers map[string]*identityClient
	// applied lets Apply skip the dry run of objects it provably applied already.
	applied appliedMemo

	// version is the cluster's Kubernetes version, read at versionAt.
	version   string
	versionAt time.Time
}

// versionTTL is how long the cluster's version is trusted: a cluster upgrade is seen within it.
const versionTTL = 10 * time.Minute

// ServerVersion is the cluster's Kubernetes version, such as v1.37.2, as Ferry's own identity
// reads it (GET /version), kept for versionTTL.
func (a *Applier) ServerVersion() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.version != "" && time.Since(a.versionAt) < versionTTL {
		return a.version, nil
	}
	disco, err := discovery.NewDiscoveryClientForConfig(a.base)
	if err != nil {
		return "", err
	}
	v, err := disco.ServerVersion()
	if err != nil {
		return "", fmt.Errorf("reading the cluster's version: %w", err)
	}
	a.version, a.versionAt = v.GitVersion, time.Now()
	return a.version, nil
}

type identityClient struct {
	client  client.Client
	mapper  meta.RESTMapper
	manager *ssa.ResourceManager
}

// NewApplier returns an Applier writing to the cluster of config.
func NewApplier(config *rest.Config) *Applier {
	return &Applier{base: rest.CopyConfig(config), managers: map[string]*identityClient{}}
}

// Impersonating returns an Applier that makes every request as imp (a user, with its groups
// and extra), on the same cluster with the same base credentials. It shares no client or memo
// with a: its clients are built on first use and go with it. For one request made as a person
// rather than as an Application (a preview's comparison); the empty username of its methods
// then means imp, never the base identity.
func (a *Applier) Impersonating(imp rest.ImpersonationConfig) *Applier {
	cfg := rest.CopyConfig(a.base)
	cfg.Impersonate = imp
	return NewApplier(cfg)
}

// forIdentity returns the clients that act as username, or as the base identity when username
// is empty. Clients are kept: building a REST mapper costs a discovery round trip.
func (a *Applier) forIdentity(username string) (*identityClient, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.managers[username]; ok {
		return c, nil
	}
	cfg := rest.CopyConfig(a.base)
	if username != "" {
		cfg.Impersonate = rest.ImpersonationConfig{UserName: username}
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("building a client for %q: %w", username, err)
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("discovering the cluster's API as %q: %w", username, err)
	}
	c, err := client.New(cfg, client.Options{HTTPClient: httpClient, Mapper: mapper})
	if err != nil {
		return nil, fmt.Errorf("building a client for %q: %w", username, err)
	}
	poller := polling.NewStatusPoller(c, mapper, polling.Options{})
	m := ssa.NewResourceManager(c, poller, ssa.Owner{Field: FieldManager, Group: "gitops.ferry.dev"})
	ic := &identityClient{client: c, mapper: mapper, manager: m}
	a.managers[username] = ic
	return ic, nil
}

// IsForbidden reports whether err (or one it wraps) is a Forbidden from the cluster, as when an
// impersonated ServiceAccount lacks a permission.
func IsForbidden(err error) bool {
	var agg utilerrors.Aggregate
	if errors.As(err, &agg) {
		for _, e := range agg.Errors() {
			if IsForbidden(e) {
				return true
			}
		}
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if apierrors.IsForbidden(e) {
			return true
		}
	}
	return false
}

// forEach calls f for every object, concurrency at a time, and returns the errors, each
// naming its object.
func forEach(objects []*unstructured.Unstructured, concurrency int, f func(i int, o *unstructured.Unstructured) error) error {
	errs := make([]error, len(objects))
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrency)
	for i, o := range objects {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(i, o); err != nil {
				errs[i] = fmt.Errorf("%s: %w", RefOf(o), err)
			}
		}()
	}
	wg.Wait()
	return utilerrors.NewAggregate(errs)
}
