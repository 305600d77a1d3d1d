package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

const (
	apiNamespace  = "bench-api"
	protobufMedia = "application/vnd.kubernetes.protobuf"
	jsonMedia     = "application/json"
)

// crdGroupVersion is where the baseline CRD serves the same Application schema.
var crdGroupVersion = schema.GroupVersion{Group: "bench.ferry.dev", Version: "v1alpha1"}

// benchScheme decodes Ferry's Application types from both groups, so every variant decodes
// into the same typed structs as a controller would.
var (
	benchScheme = runtime.NewScheme()
	benchCodecs = serializer.NewCodecFactory(benchScheme)
)

func init() {
	for _, gv := range []schema.GroupVersion{gitopsv1alpha1.SchemeGroupVersion, crdGroupVersion} {
		benchScheme.AddKnownTypes(gv, &gitopsv1alpha1.Application{}, &gitopsv1alpha1.ApplicationList{})
		metav1.AddToGroupVersion(benchScheme, gv)
	}
}

// apiVariant is one way of storing and serving Applications: Ferry's API with protobuf or JSON
// on the wire, or the CRD.
type apiVariant struct {
	name     string
	client   *rest.RESTClient
	resource string // for kubectl
}

func newVariant(base *rest.Config, name string, gv schema.GroupVersion, media string) (*apiVariant, error) {
	cfg := rest.CopyConfig(base)
	cfg.GroupVersion = &gv
	cfg.APIPath = "/apis"
	cfg.ContentType = media
	cfg.AcceptContentTypes = media
	cfg.NegotiatedSerializer = benchCodecs.WithoutConversion()
	// The server's capacity is measured, not client-go's rate limiter.
	cfg.QPS, cfg.Burst = -1, -1
	cfg.Timeout = 5 * time.Minute
	c, err := rest.RESTClientFor(cfg)
	if err != nil {
		return nil, err
	}
	return &apiVariant{name: name, client: c, resource: "applications." + gv.Group}, nil
}

var parameterCodec = runtime.NewParameterCodec(benchScheme)

func (v *apiVariant) create(ctx context.Context, app *gitopsv1alpha1.Application) (*gitopsv1alpha1.Application, error) {
	out := &gitopsv1alpha1.Application{}
	err := v.client.Post().Namespace(app.Namespace).Resource("applications").Body(app).Do(ctx).Into(out)
	return out, err
}

func (v *apiVariant) updateStatus(ctx context.Context, app *gitopsv1alpha1.Application) error {
	return v.client.Put().Namespace(app.Namespace).Resource("applications").Name(app.Name).SubResource("status").Body(app).Do(ctx).Error()
}

func (v *apiVariant) get(ctx context.Context, name string) error {
	return v.client.Get().Namespace(apiNamespace).Resource("applications").Name(name).Do(ctx).Into(&gitopsv1alpha1.Application{})
}

// list reads every Application of the namespace, in pages of limit when limit > 0, and
// returns how many it decoded.
func (v *apiVariant) list(ctx context.Context, limit int64) (int, error) {
	n, cont := 0, ""
	for {
		list := &gitopsv1alpha1.ApplicationList{}
		err := v.client.Get().Namespace(apiNamespace).Resource("applications").
			VersionedParams(&metav1.ListOptions{Limit: limit, Continue: cont}, parameterCodec).
			Do(ctx).Into(list)
		if err != nil {
			return n, err
		}
		n += len(list.Items)
		if cont = list.Continue; cont == "" {
			return n, nil
		}
	}
}

func (v *apiVariant) watch(ctx context.Context, resourceVersion string) (watch.Interface, error) {
	return v.client.Get().Namespace(apiNamespace).Resource("applications").
		VersionedParams(&metav1.ListOptions{Watch: true, ResourceVersion: resourceVersion, AllowWatchBookmarks: false}, parameterCodec).
		Timeout(10 * time.Minute).Watch(ctx)
}

func (v *apiVariant) touch(ctx context.Context, name string, i int) (*gitopsv1alpha1.Application, error) {
	// The value is new for every call of every variant: a patch that changes nothing writes
	// nothing and sends no event.
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench.ferry.dev/touch":"%s-%d-%d"}}}`, v.name, i, time.Now().UnixNano())
	out := &gitopsv1alpha1.Application{}
	err := v.client.Patch(types.MergePatchType).Namespace(apiNamespace).Resource("applications").Name(name).
		Body([]byte(patch)).Do(ctx).Into(out)
	return out, err
}

func (v *apiVariant) deleteAll(ctx context.Context) error {
	return v.client.Delete().Namespace(apiNamespace).Resource("applications").Do(ctx).Error()
}

// apiScenario stores n Applications in Ferry's API and n in the CRD, and measures writes,
// reads, watches and kubectl on both.
func (b *bench) apiScenario(ctx context.Context, n int) error {
	admin := b.stack.RestConfig("admin")
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: apiNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	b.logf("API: installing the baseline CRD applications.%s from Ferry's OpenAPI", crdGroupVersion.Group)
	if err := installBaselineCRD(ctx, admin); err != nil {
		return err
	}
	ferryProto, err := newVariant(admin, "ferry-protobuf", gitopsv1alpha1.SchemeGroupVersion, protobufMedia)
	if err != nil {
		return err
	}
	ferryJSON, err := newVariant(admin, "ferry-json", gitopsv1alpha1.SchemeGroupVersion, jsonMedia)
	if err != nil {
		return err
	}
	crd, err := newVariant(admin, "crd", crdGroupVersion, jsonMedia)
	if err != nil {
		return err
	}
	all := []*apiVariant{ferryProto, ferryJSON, crd}
	for _, v := range []*apiVariant{ferryProto, crd} {
		if err := v.deleteAll(ctx); err != nil {
			return fmt.Errorf("deleting the Applications of an earlier run: %w", err)
		}
	}
	defer func() {
		for _, v := range []*apiVariant{ferryProto, crd} {
			if err := v.deleteAll(context.WithoutCancel(ctx)); err != nil {
				b.logf("cleaning up %s: %v", v.name, err)
			}
		}
		// Left behind, the CRD's "application" would shadow Ferry's in kubectl.
		if err := deleteBaselineCRD(context.WithoutCancel(ctx), admin); err != nil {
			b.logf("deleting the baseline CRD: %v", err)
		}
	}()

	// Writes: Ferry's typed clients write protobuf; the CRD can only take JSON.
	ferryPid, err := b.stack.Pid("ferry-apiserver")
	if err != nil {
		return err
	}
	kubePid, err := b.stack.Pid("kube-apiserver")
	if err != nil {
		return err
	}
	creates, statuses := map[string]float64{}, map[string]float64{}
	memory := map[string]float64{}
	for _, v := range []*apiVariant{ferryProto, crd} {
		pid := ferryPid
		if v == crd {
			pid = kubePid
		}
		before, _ := sampleProcess(pid)
		b.logf("API: creating %d Applications in %s", n, v.name)
		created := make([]*gitopsv1alpha1.Application, n)
		rate, err := b.parallel(ctx, n, func(ctx context.Context, i int) (err error) {
			created[i], err = v.create(ctx, sampleApplication(i, v == crd))
			return err
		})
		if err != nil {
			return fmt.Errorf("creating in %s: %w", v.name, err)
		}
		creates[v.name] = rate
		b.logf("API: writing the status of %d Applications in %s", n, v.name)
		if statuses[v.name], err = b.parallel(ctx, n, func(ctx context.Context, i int) error {
			return v.updateStatus(ctx, sampleStatus(created[i]))
		}); err != nil {
			return fmt.Errorf("writing status in %s: %w", v.name, err)
		}
		after, _ := sampleProcess(pid)
		memory[v.name] = float64(after.RSS-before.RSS) / float64(n) / 1024
	}
	b.report.add(Row{Scenario: "api", Metric: "create throughput", Size: n, Unit: "obj/s", Values: creates, Ratio: creates["ferry-protobuf"] / creates["crd"]})
	b.report.add(Row{Scenario: "api", Metric: "status write throughput", Size: n, Unit: "obj/s", Values: statuses, Ratio: statuses["ferry-protobuf"] / statuses["crd"]})
	b.report.add(Row{Scenario: "api", Metric: "server RSS growth per object", Size: n, Unit: "KiB", Values: memory,
		Note: "ferry-apiserver's RSS for Ferry, kube-apiserver's for the CRD; Go heaps grow in steps, so this is indicative", Target: "<= 8 KiB (Ferry)"})

	// Reads.
	fullList, pagedList, getP50, getP99 := map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
	for _, v := range all {
		b.logf("API: reading %s (full and paginated lists, %d GETs)", v.name, b.cfg.Gets)
		d, err := repeat(b.cfg.Repeats, func() (time.Duration, error) {
			var got int
			d, err := timed(func() (err error) { got, err = v.list(ctx, 0); return err })
			if err == nil && got != n {
				err = fmt.Errorf("listed %d Applications, want %d", got, n)
			}
			return d, err
		})
		if err != nil {
			return fmt.Errorf("LIST %s: %w", v.name, err)
		}
		fullList[v.name] = ms(d)
		if d, err = repeat(b.cfg.Repeats, func() (time.Duration, error) {
			return timed(func() error { _, err := v.list(ctx, 500); return err })
		}); err != nil {
			return fmt.Errorf("paginated LIST %s: %w", v.name, err)
		}
		pagedList[v.name] = ms(d)
		var lat []time.Duration
		rng := rand.New(rand.NewPCG(1, uint64(n)))
		for range b.cfg.Gets {
			name := appName(rng.IntN(n))
			d, err := timed(func() error { return v.get(ctx, name) })
			if err != nil {
				return fmt.Errorf("GET %s: %w", v.name, err)
			}
			lat = append(lat, d)
		}
		getP50[v.name], getP99[v.name] = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	}
	best := func(m map[string]float64) float64 { return min(m["ferry-protobuf"], m["ferry-json"]) }
	b.report.add(Row{Scenario: "api", Metric: "LIST all, fetch+decode (median)", Size: n, Unit: "ms", Values: fullList, Ratio: fullList["crd"] / best(fullList), Target: ">= 3x faster than the CRD (protobuf)"})
	b.report.add(Row{Scenario: "api", Metric: "LIST in pages of 500 (median)", Size: n, Unit: "ms", Values: pagedList, Ratio: pagedList["crd"] / best(pagedList)})
	b.report.add(Row{Scenario: "api", Metric: "GET p50", Size: n, Unit: "ms", Values: getP50, Ratio: getP50["crd"] / best(getP50)})
	b.report.add(Row{Scenario: "api", Metric: "GET p99", Size: n, Unit: "ms", Values: getP99, Ratio: getP99["crd"] / best(getP99)})

	// Watch: the delay from a write's response to its event on an open watch.
	watchP50, watchP99 := map[string]float64{}, map[string]float64{}
	for _, v := range all {
		b.logf("API: %d watch events from %s", b.cfg.WatchEvents, v.name)
		lat, err := b.watchLatency(ctx, v, n)
		if err != nil {
			return fmt.Errorf("WATCH %s: %w", v.name, err)
		}
		watchP50[v.name], watchP99[v.name] = ms(percentile(lat, 50)), ms(percentile(lat, 99))
	}
	b.report.add(Row{Scenario: "api", Metric: "WATCH event delay p50", Size: n, Unit: "ms", Values: watchP50})
	b.report.add(Row{Scenario: "api", Metric: "WATCH event delay p99", Size: n, Unit: "ms", Values: watchP99})

	// kubectl, as users see it: a server-side table, JSON.
	kubectlTimes := map[string]float64{}
	for _, v := range []*apiVariant{ferryProto, crd} {
		b.logf("API: kubectl get %s -A", v.resource)
		d, err := repeat(max(3, b.cfg.Repeats/2), func() (time.Duration, error) {
			return timed(func() error {
				cmd := exec.CommandContext(ctx, b.stack.Kubectl(), "--kubeconfig", b.stack.Kubeconfig(), "get", v.resource, "-A")
				out, err := cmd.Output()
				if err == nil && strings.Count(string(out), "\n") < n {
					err = fmt.Errorf("kubectl printed %d lines for %d objects", strings.Count(string(out), "\n"), n)
				}
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("kubectl get %s: %w", v.resource, err)
		}
		kubectlTimes[strings.TrimSuffix(v.name, "-protobuf")] = ms(d)
	}
	b.report.add(Row{Scenario: "api", Metric: "kubectl get -A wall time (median)", Size: n, Unit: "ms", Values: kubectlTimes, Ratio: kubectlTimes["crd"] / kubectlTimes["ferry"], Target: "no slower than the CRD"})
	return nil
}

// parallel runs f for 0..n-1 on cfg.Concurrency goroutines and returns calls per second.
func (b *bench) parallel(ctx context.Context, n int, f func(ctx context.Context, i int) error) (float64, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, b.cfg.Concurrency)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	for range b.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					errs <- fmt.Errorf("item %d: %w", i, err)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(n) / elapsed.Seconds(), nil
}

// watchLatency opens a watch, then patches Applications one after another and measures how
// long after each patch's response its event arrives.
func (b *bench) watchLatency(ctx context.Context, v *apiVariant, n int) ([]time.Duration, error) {
	first, err := v.touch(ctx, appName(0), -1)
	if err != nil {
		return nil, err
	}
	w, err := v.watch(ctx, first.ResourceVersion)
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	type seen struct {
		rv string
		at time.Time
	}
	events := make(chan seen, 64)
	go func() {
		defer close(events)
		for ev := range w.ResultChan() {
			if app, ok := ev.Object.(*gitopsv1alpha1.Application); ok && ev.Type == watch.Modified {
				events <- seen{rv: app.ResourceVersion, at: time.Now()}
			}
		}
	}()
	var lat []time.Duration
	for i := range b.cfg.WatchEvents {
		app, err := v.touch(ctx, appName(i%n), i)
		if err != nil {
			return nil, err
		}
		wrote := time.Now()
		deadline := time.After(30 * time.Second)
		for done := false; !done; {
			select {
			case ev, ok := <-events:
				if !ok {
					return nil, fmt.Errorf("the watch closed after %d events", i)
				}
				if ev.rv == app.ResourceVersion {
					lat = append(lat, max(0, ev.at.Sub(wrote)))
					done = true
				}
			case <-deadline:
				return nil, fmt.Errorf("no event for resourceVersion %s within 30s", app.ResourceVersion)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return lat, nil
}

func appName(i int) string { return fmt.Sprintf("app-%05d", i) }

// sampleApplication is a realistic Application: a Git source with kustomize options, an
// automated policy, suspended so nothing reconciles it.
func sampleApplication(i int, crd bool) *gitopsv1alpha1.Application {
	gv := gitopsv1alpha1.SchemeGroupVersion
	if crd {
		gv = crdGroupVersion
	}
	return &gitopsv1alpha1.Application{
		TypeMeta: metav1.TypeMeta{APIVersion: gv.String(), Kind: "Application"},
		ObjectMeta: metav1.ObjectMeta{
			Name: appName(i), Namespace: apiNamespace,
			Labels: map[string]string{"team": fmt.Sprintf("team-%d", i%20), "tier": "backend"},
		},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source: gitopsv1alpha1.ApplicationSource{
				RepoURL:  "https://git.example.com/platform/monorepo.git",
				Revision: "main",
				Path:     fmt.Sprintf("apps/app-%05d/overlays/production", i),
				Kustomize: &gitopsv1alpha1.KustomizeSource{
					NamePrefix: "prod-",
					Images:     []string{"registry.example.com/shop/web:1.4.2"},
				},
			},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: fmt.Sprintf("shop-%d", i)},
			SyncPolicy: gitopsv1alpha1.SyncPolicy{
				Automated:       &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true, SelfHeal: true},
				Interval:        &metav1.Duration{Duration: 3 * time.Minute},
				CreateNamespace: true,
			},
			Suspend: true,
		},
	}
}

// sampleStatus fills the status a synced Application with 10 objects has.
func sampleStatus(app *gitopsv1alpha1.Application) *gitopsv1alpha1.Application {
	now := metav1.NewTime(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	sha := fmt.Sprintf("%040x", len(app.Name)*7919)
	s := &app.Status
	s.ObservedGeneration = 1
	s.SourceRevision = sha
	s.Sync = gitopsv1alpha1.SyncStatus{Status: gitopsv1alpha1.SyncStatusSynced, Revision: sha}
	s.Health = gitopsv1alpha1.HealthStatus{Status: gitopsv1alpha1.HealthHealthy}
	s.ReconciledAt = &now
	for _, c := range []struct{ typ, reason string }{
		{"Ready", "Succeeded"}, {"Reconciling", "Succeeded"}, {"Stalled", "Succeeded"}, {"Synced", "Synced"}, {"Healthy", "Healthy"},
	} {
		status := metav1.ConditionTrue
		if c.typ == "Reconciling" || c.typ == "Stalled" {
			status = metav1.ConditionFalse
		}
		s.Conditions = append(s.Conditions, metav1.Condition{Type: c.typ, Status: status, Reason: c.reason, ObservedGeneration: 1, LastTransitionTime: now,
			Message: "Applied revision main@sha1:" + sha[:12]})
	}
	for j := range 10 {
		kind, group := "ConfigMap", ""
		switch j % 5 {
		case 3:
			kind = "Service"
		case 4:
			kind, group = "Deployment", "apps"
		}
		s.Resources = append(s.Resources, gitopsv1alpha1.ResourceStatus{
			Group: group, Version: "v1", Kind: kind, Namespace: app.Spec.Destination.Namespace,
			Name: fmt.Sprintf("prod-%s-%d", strings.ToLower(kind), j), Status: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthHealthy,
		})
	}
	s.History = []gitopsv1alpha1.OperationRecord{{ID: "0f3c2a19", Phase: gitopsv1alpha1.OperationSucceeded, Revision: "main", SyncedRevision: sha,
		Prune: true, RequestedBy: "automated", RequestedAt: &now, FinishedAt: &now, Message: "10 configured"}}
	return app
}
