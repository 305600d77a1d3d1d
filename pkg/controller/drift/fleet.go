package drift

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

// ClusterConfigs returns the client configuration of a Ready remote cluster and the generation
// of its connection (remote.Registry.Config).
type ClusterConfigs func(cluster string) (*rest.Config, uint64, error)

// Fleet keeps one Watcher per cluster: the cluster Ferry runs in ("") and each remote cluster an
// Application deploys into, started on first use and started again when the cluster's
// connection changes. Every Application on a cluster shares that cluster's watches. Safe for
// concurrent use.
type Fleet struct {
	local    *Watcher
	configs  ClusterConfigs
	onChange func(apply.App, apply.ObjectRef, Change)

	mu     sync.Mutex
	ctx    context.Context
	remote map[string]*remoteWatcher
}

type remoteWatcher struct {
	*Watcher
	generation uint64
	stop       context.CancelFunc
}

// NewFleet returns a Fleet around the local Watcher; configs may be nil when Ferry deploys to no
// other cluster. onChange is told of changes on every cluster, as for NewWatcher.
func NewFleet(local *Watcher, configs ClusterConfigs, onChange func(apply.App, apply.ObjectRef, Change)) *Fleet {
	return &Fleet{local: local, configs: configs, onChange: onChange, remote: map[string]*remoteWatcher{}}
}

// Start starts the local Watcher, and lets remote ones start as they are first used; all stop
// when ctx is done.
func (f *Fleet) Start(ctx context.Context) {
	f.mu.Lock()
	f.ctx = ctx
	f.mu.Unlock()
	f.local.Start(ctx)
}

// watcher returns the cluster's Watcher; create makes (or remakes, after a connection change)
// a remote one.
func (f *Fleet) watcher(cluster string, create bool) (*Watcher, error) {
	if cluster == "" {
		return f.local, nil
	}
	if f.configs == nil {
		return nil, nil
	}
	cfg, gen, err := f.configs(cluster)
	f.mu.Lock()
	defer f.mu.Unlock()
	rw, ok := f.remote[cluster]
	if err != nil {
		// Not Ready: its cache may be stale, so nothing is served from it.
		return nil, err
	}
	if ok && rw.generation == gen {
		return rw.Watcher, nil
	}
	if !create || f.ctx == nil {
		return nil, nil
	}
	if ok {
		rw.stop()
		delete(f.remote, cluster)
	}
	w, err := NewWatcher(cfg, f.onChange)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(f.ctx)
	w.Start(ctx)
	f.remote[cluster] = &remoteWatcher{Watcher: w, generation: gen, stop: stop}
	return w, nil
}

// Forget stops the watches of a cluster no longer registered.
func (f *Fleet) Forget(cluster string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rw, ok := f.remote[cluster]; ok {
		rw.stop()
		delete(f.remote, cluster)
	}
}

// Watch makes sure every kind is watched on the cluster.
func (f *Fleet) Watch(cluster string, gvks ...schema.GroupVersionKind) error {
	w, err := f.watcher(cluster, true)
	if err != nil || w == nil {
		return err
	}
	return w.Watch(gvks...)
}

// Synced reports whether the cluster's informers of these kinds have synced.
func (f *Fleet) Synced(cluster string, gvks ...schema.GroupVersionKind) bool {
	w, err := f.watcher(cluster, false)
	return err == nil && w != nil && w.Synced(gvks...)
}

// Get returns a managed object from the cluster's watch cache, as Watcher.Get.
func (f *Fleet) Get(cluster string, ref apply.ObjectRef) (*unstructured.Unstructured, bool) {
	w, err := f.watcher(cluster, false)
	if err != nil || w == nil {
		return nil, false
	}
	return w.Get(ref)
}

// Local returns the Watcher of the cluster Ferry runs in.
func (f *Fleet) Local() *Watcher { return f.local }
