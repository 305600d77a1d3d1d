package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// The floor is what deploying the workload costs the cluster with nothing of a GitOps tool
// around it: a small client-go program making exactly the requests Ferry's applier makes for an
// Application's first sync, with the same parallelism — get the namespace and create it, a
// server-side-apply dry run of every object (8 at once), then the apply of each object, tier by
// tier (ServiceAccounts, then Services, then the rest), 8 at once, and this for as many apps at
// once as Ferry has workers. No Git, no rendering on the clock (the objects are rendered before
// it starts), no status written anywhere. A tool's time over the floor's is what the tool adds.
const floorFieldManager = "ferry-bench-floor"

// floorApp is one app's objects and the namespace they go to.
type floorApp struct {
	namespace string
	objects   []*unstructured.Unstructured
}

// floorApps renders the n apps of a layout at version as the floor applies them, app i into
// namespace(i). The kustomize layout is rendered with kustomize, as the tools render it.
func floorApps(layout string, n int, version string, namespace func(int) string) ([]floorApp, error) {
	files := mttpRepo(layout, n, version)
	var fs filesys.FileSystem
	if layout == mttpKustomize {
		fs = filesys.MakeFsInMemory()
		for name, body := range files {
			if err := fs.WriteFile("/repo/"+name, []byte(body)); err != nil {
				return nil, err
			}
		}
	}
	apps := make([]floorApp, n)
	for i := range n {
		apps[i].namespace = namespace(i)
		var docs []string
		if layout == mttpKustomize {
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/repo/"+mttpPath(i))
			if err != nil {
				return nil, fmt.Errorf("kustomize build %s: %w", mttpPath(i), err)
			}
			out, err := res.AsYaml()
			if err != nil {
				return nil, err
			}
			docs = strings.Split(string(out), "\n---\n")
		} else {
			prefix := mttpPath(i) + "/"
			var names []string
			for name := range files {
				if strings.HasPrefix(name, prefix) {
					names = append(names, name)
				}
			}
			sort.Strings(names)
			for _, name := range names {
				docs = append(docs, files[name])
			}
		}
		for _, doc := range docs {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
				return nil, fmt.Errorf("app %d: %w", i, err)
			}
			obj.SetNamespace(apps[i].namespace)
			apps[i].objects = append(apps[i].objects, obj)
		}
	}
	return apps, nil
}

// floorTier is the creation tier of a kind, as Ferry's applier orders new objects.
func floorTier(kind string) int {
	switch kind {
	case "ServiceAccount":
		return 0
	case "Service":
		return 1
	}
	return 2
}

// runFloor deploys apps as described above and returns how long it took from the first request
// to the last answer.
func runFloor(ctx context.Context, cfg *rest.Config, apps []floorApp, workers int) (time.Duration, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0 // as Ferry's applier: the server's priority and fairness is the limit
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	err = eachConcurrently(len(apps), workers, func(i int) error { return floorDeploy(ctx, c, apps[i]) })
	return time.Since(start), err
}

func floorDeploy(ctx context.Context, c client.Client, app floorApp) error {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	if err := c.Get(ctx, client.ObjectKey{Name: app.namespace}, ns); apierrors.IsNotFound(err) {
		ns.SetName(app.namespace)
		if err := c.Create(ctx, ns, client.FieldOwner(floorFieldManager)); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	} else if err != nil {
		return err
	}
	err := eachConcurrently(len(app.objects), 8, func(i int) error {
		return c.Patch(ctx, app.objects[i].DeepCopy(), client.Apply, client.DryRunAll, client.ForceOwnership, client.FieldOwner(floorFieldManager)) //nolint:staticcheck // the request Ferry's applier makes
	})
	if err != nil {
		return fmt.Errorf("dry run in %s: %w", app.namespace, err)
	}
	var tiers [3][]*unstructured.Unstructured
	for _, o := range app.objects {
		t := floorTier(o.GetKind())
		tiers[t] = append(tiers[t], o)
	}
	for _, tier := range tiers {
		err := eachConcurrently(len(tier), 8, func(i int) error {
			return c.Patch(ctx, tier[i].DeepCopy(), client.Apply, client.ForceOwnership, client.FieldOwner(floorFieldManager)) //nolint:staticcheck // as above
		})
		if err != nil {
			return fmt.Errorf("apply in %s: %w", app.namespace, err)
		}
	}
	return nil
}

// eachConcurrently runs f(0..n-1), at most limit at once, and returns the first error.
func eachConcurrently(n, limit int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, limit)
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}
