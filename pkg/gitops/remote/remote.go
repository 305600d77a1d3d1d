// Package remote keeps the remote clusters Applications deploy into: how to reach each one
// (server, CA, Ferry's credentials there), an applier per cluster, and whether its last probe
// reached it. It knows nothing of the API server: the Cluster controller feeds it, the engine
// and the drift watches read it.
package remote

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

// Connection is how Ferry reaches one cluster.
type Connection struct {
	Server        string
	TLSServerName string
	CAData        []byte
	// Either Token, or CertData and KeyData.
	Token    string
	CertData []byte
	KeyData  []byte
}

// ErrNoCredentials: a credentials Secret holds neither a token nor a certificate and key.
var ErrNoCredentials = errors.New(`holds no credentials: set "token", or "tls.crt" and "tls.key"`)

// ConnectionFor builds the connection of a Cluster from its spec and its credentials Secret's
// data. The error never quotes the Secret.
func ConnectionFor(spec gitopsv1alpha1.ClusterSpec, secret map[string][]byte) (Connection, error) {
	c := Connection{Server: spec.Server, TLSServerName: spec.TLSServerName, CAData: spec.CABundle}
	token := secret[gitopsv1alpha1.ClusterTokenKey]
	cert, key := secret[gitopsv1alpha1.ClusterCertKey], secret[gitopsv1alpha1.ClusterKeyKey]
	switch {
	case len(token) > 0 && (len(cert) > 0 || len(key) > 0):
		return Connection{}, errors.New(`holds both a token and a client certificate: keep one`)
	case len(token) > 0:
		c.Token = string(token)
	case len(cert) > 0 && len(key) > 0:
		c.CertData, c.KeyData = cert, key
	case len(cert) > 0 || len(key) > 0:
		return Connection{}, errors.New(`holds only one of "tls.crt" and "tls.key": both are needed`)
	default:
		return Connection{}, ErrNoCredentials
	}
	return c, nil
}

// fingerprint identifies a connection without keeping its secrets in the clear.
func (c Connection) fingerprint() [sha256.Size]byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(c.Server), []byte(c.TLSServerName), c.CAData, []byte(c.Token), c.CertData, c.KeyData} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// RESTConfig is a client configuration for the connection: no exec plugin, no auth provider,
// no proxy from the environment, nothing but what the Cluster and its Secret say.
func (c Connection) RESTConfig(qps float32, burst int) *rest.Config {
	cfg := &rest.Config{
		Host:        c.Server,
		BearerToken: c.Token,
		TLSClientConfig: rest.TLSClientConfig{
			ServerName: c.TLSServerName,
			CAData:     c.CAData,
			CertData:   c.CertData,
			KeyData:    c.KeyData,
		},
		QPS:     qps,
		Burst:   burst,
		Timeout: 30 * time.Second,
		// The Cluster names the server; an ambient HTTPS_PROXY must not see Ferry's token.
		Proxy: func(*http.Request) (*url.URL, error) { return nil, nil },
	}
	rest.AddUserAgent(cfg, "ferry")
	return cfg
}

// Registry holds the registered clusters. Safe for concurrent use.
type Registry struct {
	qps   float32
	burst int

	mu      sync.RWMutex
	entries map[string]*entry
}

type entry struct {
	fingerprint [sha256.Size]byte
	config      *rest.Config
	applier     *apply.Applier
	// generation counts connection changes, so watches know to start again.
	generation uint64
	ready      bool
	why        string
}

// NewRegistry returns an empty registry whose clients send at most qps requests a second
// (burst above it) to each cluster.
func NewRegistry(qps float32, burst int) *Registry {
	return &Registry{qps: qps, burst: burst, entries: map[string]*entry{}}
}

// Set records how to reach a cluster and reports whether that changed. A changed connection
// gets a new applier (no client keeps old credentials) and starts not Ready until probed.
func (r *Registry) Set(name string, conn Connection) bool {
	fp := conn.fingerprint()
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if ok && e.fingerprint == fp {
		return false
	}
	var gen uint64
	if ok {
		gen = e.generation + 1
	}
	cfg := conn.RESTConfig(r.qps, r.burst)
	r.entries[name] = &entry{fingerprint: fp, config: cfg, applier: apply.NewApplier(cfg), generation: gen, why: "not probed yet"}
	return true
}

// SetReady records the outcome of a probe and reports whether readiness changed.
func (r *Registry) SetReady(name string, ready bool, why string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok {
		return false
	}
	changed := e.ready != ready
	e.ready, e.why = ready, why
	return changed
}

// Unusable records that a cluster cannot be reached at all (its credentials are missing or
// malformed), and reports whether that changed anything.
func (r *Registry) Unusable(name, why string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entries[name]
	if !ok {
		r.entries[name] = &entry{why: why}
		return true
	}
	changed := e.ready
	e.ready, e.why = false, why
	return changed
}

// Remove forgets a cluster; reports whether it was known.
func (r *Registry) Remove(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.entries[name]
	delete(r.entries, name)
	return ok
}

// Names are the registered clusters, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	names := make([]string, 0, len(r.entries))
	for n := range r.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Applier returns the applier of a Ready cluster, or why it cannot be used.
func (r *Registry) Applier(name string) (*apply.Applier, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("no Cluster %q is registered (kubectl get clusters.gitops.ferry.dev)", name)
	case !e.ready:
		return nil, fmt.Errorf("the cluster is not Ready: %s", e.why)
	}
	return e.applier, nil
}

// Config returns the client configuration of a Ready cluster and the generation of its
// connection.
func (r *Registry) Config(name string) (*rest.Config, uint64, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	switch {
	case !ok:
		return nil, 0, fmt.Errorf("no Cluster %q is registered", name)
	case !e.ready:
		return nil, 0, fmt.Errorf("cluster %q is not Ready: %s", name, e.why)
	}
	return rest.CopyConfig(e.config), e.generation, nil
}

// ProbeConfig returns the client configuration of a registered cluster, Ready or not, for the
// probe; false for one never connected (Unusable before any Set: nothing to probe with).
func (r *Registry) ProbeConfig(name string) (*rest.Config, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.entries[name]
	if !ok || e.config == nil {
		return nil, false
	}
	return rest.CopyConfig(e.config), true
}

// Probe asks a cluster for its version with Ferry's credentials, within timeout. It returns the
// version, or the Cluster condition reason (Unreachable, Unauthorized) and an error that names
// no credential and quotes no response body.
func Probe(ctx context.Context, cfg *rest.Config, timeout time.Duration) (version, reason string, err error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = timeout
	client, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", gitopsv1alpha1.ReasonClusterCredentialsError, fmt.Errorf("building a client: %w", err)
	}
	// /version is public on most clusters: ask for the API groups too, which need credentials.
	v, err := client.ServerVersion()
	if err == nil {
		_, err = client.ServerGroups()
	}
	switch {
	case err == nil:
		return v.GitVersion, gitopsv1alpha1.ReasonClusterReachable, nil
	case apierrors.IsUnauthorized(err):
		return "", gitopsv1alpha1.ReasonClusterUnauthorized, errors.New("the cluster refused Ferry's credentials (401 Unauthorized): check the Secret of spec.credentialsRef")
	case apierrors.IsForbidden(err):
		return "", gitopsv1alpha1.ReasonClusterUnauthorized, errors.New("the identity of spec.credentialsRef may not discover the cluster's API (403 Forbidden): grant it a ClusterRole there")
	}
	return "", gitopsv1alpha1.ReasonClusterUnreachable, unreachable(err)
}

// unreachable says why a cluster did not answer, without a response body.
func unreachable(err error) error {
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.As(err, &urlErr):
		return fmt.Errorf("cannot reach %s: %v", urlErr.URL, urlErr.Err)
	case errors.As(err, &netErr):
		return fmt.Errorf("cannot reach the server: %v", netErr)
	case apierrors.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded):
		return errors.New("the server did not answer in time")
	}
	if status, ok := err.(apierrors.APIStatus); ok {
		return fmt.Errorf("the server answered %d %s", status.Status().Code, status.Status().Reason)
	}
	return errors.New("the server's answer is not a Kubernetes API")
}
