package manager

import (
	"context"
	"fmt"
	"sync"

	"github.com/ferry-gitops/ferry/pkg/controller/application"
	"github.com/ferry-gitops/ferry/pkg/controller/drift"
	"github.com/ferry-gitops/ferry/pkg/controller/notification"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

// applicationTerm is one term of the Application controller and the watches of managed objects
// that report drift to it. Each term gets fresh ones, as neither can run twice.
type applicationTerm struct {
	controller *application.Controller
	fleet      *drift.Fleet
}

// objectChanged forwards what the watches see to the term's controller. The watches are built
// before the controller (it reads live objects through them), so they report through the term.
func (t *applicationTerm) objectChanged(app apply.App, ref apply.ObjectRef, change drift.Change) {
	if t.controller != nil {
		t.controller.ObjectChanged(app, ref, change)
	}
}

// newApplicationTerm builds the Application controller and its watches of managed objects.
func (m *Manager) newApplicationTerm() (*applicationTerm, error) {
	t := &applicationTerm{}
	watcher, err := drift.NewWatcher(m.cfg.Target, t.objectChanged)
	if err != nil {
		return nil, fmt.Errorf("setting up watches of managed objects: %w", err)
	}
	t.fleet = drift.NewFleet(watcher, m.cfg.Clusters.Config, t.objectChanged)
	cfg := application.Config{Ferry: m.cfg.Ferry, Kube: m.cfg.Kube, Engine: m.cfg.Engine, Workers: m.cfg.ApplicationWorkers, Live: t.fleet, FinalizerTimeout: m.cfg.FinalizerTimeout}
	if m.shards != nil { // a nil *shard.Manager in the interface would not be a nil Shards
		cfg.Shards = m.shards
	}
	t.controller = application.New(cfg)
	return t, nil
}

// runApplications reconciles Applications until ctx is done, watching managed objects only
// meanwhile. The alerts of Applications are sent by the replica that reconciles them, so the
// notification controller runs for the same term and asks the same shards.
func (m *Manager) runApplications(ctx context.Context) {
	t, err := m.newApplicationTerm()
	if err != nil {
		m.logger.Error(err, "Cannot build the controller")
		return
	}
	ncfg := notification.Config{Ferry: m.cfg.Ferry, Kube: m.cfg.Kube, Addresses: m.cfg.Notifications}
	if m.shards != nil {
		ncfg.Shards = m.shards
	}
	notifications, err := notification.New(ncfg)
	if err != nil {
		m.logger.Error(err, "Cannot build the notification controller")
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { notifications.Run(ctx) })
	t.fleet.Start(ctx)
	m.running.Store(t)
	defer m.running.CompareAndSwap(t, nil)
	if err := t.controller.Run(ctx); err != nil {
		m.logger.Error(err, "The controller stopped")
	}
}

// clusterChanged is the Cluster controller's news of a Cluster (its connection or readiness
// changed, or it was removed): its watches stop, to be made again with the new connection when
// next used, and the Applications deploying there are reconciled at once.
func (m *Manager) clusterChanged(name string) {
	if t := m.running.Load(); t != nil {
		t.fleet.Forget(name)
		t.controller.ClusterChanged(name)
	}
}

// shardsChanged is the shards' news that this replica's share of the Applications changed:
// each is looked at again, and kept or passed over.
func (m *Manager) shardsChanged() {
	if t := m.running.Load(); t != nil {
		t.controller.ShardsChanged()
	}
}
