package application

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// history records, in the cluster's own order (etcd revisions, not clocks), what happened to
// the objects of one namespace: when each was created, became ready and was deleted.
type history struct {
	mu     sync.Mutex
	events []seen
}

type seen struct {
	kind, name string
	what       string // created, ready, deleted
	revision   uint64
}

// watchHistory starts watches on the ConfigMaps, ServiceAccounts, Services, Deployments and Jobs
// of ns, from now.
func (f *fixture) watchHistory(ns string) *history {
	f.t.Helper()
	h := &history{}
	ctx, cancel := context.WithCancel(context.Background())
	f.t.Cleanup(cancel)
	start := func(kind string, w watch.Interface, err error, ready func(runtime.Object) bool) {
		if err != nil {
			f.t.Fatal(err)
		}
		readySeen := map[string]bool{}
		go func() {
			defer w.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-w.ResultChan():
					if !ok {
						return
					}
					m, err := metaOf(ev.Object)
					if err != nil {
						continue
					}
					rv, _ := strconv.ParseUint(m.GetResourceVersion(), 10, 64)
					h.mu.Lock()
					switch ev.Type {
					case watch.Added:
						h.events = append(h.events, seen{kind, m.GetName(), "created", rv})
					case watch.Deleted:
						h.events = append(h.events, seen{kind, m.GetName(), "deleted", rv})
					}
					if ev.Type != watch.Deleted && !readySeen[m.GetName()] && ready(ev.Object) {
						readySeen[m.GetName()] = true
						h.events = append(h.events, seen{kind, m.GetName(), "ready", rv})
					}
					h.mu.Unlock()
				}
			}
		}()
	}
	always := func(runtime.Object) bool { return true }
	w, err := f.kube.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{})
	start("ConfigMap", w, err, always)
	w, err = f.kube.CoreV1().ServiceAccounts(ns).Watch(ctx, metav1.ListOptions{})
	start("ServiceAccount", w, err, always)
	w, err = f.kube.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{})
	start("Service", w, err, always)
	w, err = f.kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	start("Deployment", w, err, func(o runtime.Object) bool {
		d := o.(*appsv1.Deployment)
		return d.Status.ObservedGeneration == d.Generation && d.Spec.Replicas != nil && d.Status.AvailableReplicas == *d.Spec.Replicas && d.Status.UpdatedReplicas == *d.Spec.Replicas
	})
	w, err = f.kube.AppsV1().ReplicaSets(ns).Watch(ctx, metav1.ListOptions{})
	start("ReplicaSet", w, err, always)
	w, err = f.kube.BatchV1().Jobs(ns).Watch(ctx, metav1.ListOptions{})
	start("Job", w, err, func(o runtime.Object) bool {
		for _, c := range o.(*batchv1.Job).Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
	return h
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	m, ok := o.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no metadata", o)
	}
	return m, nil
}

// at is the etcd revision of what happened to kind/name; 0 when it has not been seen.
func (h *history) at(kind, name, what string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if e.kind == kind && e.name == name && e.what == what {
			return e.revision
		}
	}
	return 0
}

func (h *history) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, e := range h.events {
		fmt.Fprintf(&b, "\n  %d %s %s/%s", e.revision, e.what, e.kind, e.name)
	}
	return b.String()
}

// waitEvent waits for an Event of type and reason about the Application name.
func (f *fixture) waitEvent(name, typ, reason string) {
	f.t.Helper()
	eventually.Until(f.t, 60*time.Second, 100*time.Millisecond, fmt.Sprintf("a %s Event %s about %s", typ, reason, name), func() (bool, string) {
		list, err := f.kube.CoreV1().Events(appNamespace).List(f.t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.Type == typ && e.Reason == reason && e.InvolvedObject.UID == types.UID("uid-"+name) {
				return true, ""
			}
			seen = append(seen, e.Type+"/"+e.Reason)
		}
		return false, fmt.Sprint("events: ", seen)
	})
}

// waitCompared waits for a manual Application's first comparison, so that a sync requested next
// is not overwritten by the status write of a comparison already under way (the fake Ferry API
// has no resourceVersion conflicts to refuse it).
func (f *fixture) waitCompared(name string) {
	f.t.Helper()
	f.waitFor(name, "compared", func(a *gitopsv1alpha1.Application) bool { return a.Status.SourceRevision != "" })
}

// waitSeen polls until the history holds what happened to kind/name, and returns its revision.
func (f *fixture) waitSeen(h *history, kind, name, what string) uint64 {
	f.t.Helper()
	var rv uint64
	eventually.Until(f.t, 60*time.Second, 50*time.Millisecond, fmt.Sprintf("%s/%s %s", kind, name, what), func() (bool, string) {
		rv = h.at(kind, name, what)
		return rv != 0, "seen:" + h.String()
	})
	return rv
}

const wavedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        envFrom: [{configMapRef: {name: schema}}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
`

func migrationJob(name, wave string, labels string) string {
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
  annotations: {gitops.ferry.dev/sync-wave: %q}
spec:
  backoffLimit: 0
  template:
    metadata: {labels: {%s}}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`, name, wave, labels)
}

func wavedConfigMap(name, annotation, wave string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  annotations: {%s: %q}\ndata:\n  value: %q\n", name, annotation, wave, name)
}

// TestWavesApplyInOrderEachHealthyFirst: waves -2, -1, 0 and 1 (the last in Argo CD's
// annotation) are applied in order, each only once the one before it is Healthy — the Job has
// completed, the Deployment is Available — as etcd's revisions show; the operation lists the
// waves. Pruning goes the other way: the highest wave first.
func TestWavesApplyInOrderEachHealthyFirst(t *testing.T) {
	f := newFixture(t)
	h := f.watchHistory(f.dest)
	sha := f.commit(map[string]string{
		"schema.yaml":     wavedConfigMap("schema", "gitops.ferry.dev/sync-wave", "-2"),
		"migrate.yaml":    migrationJob("migrate", "-1", "app: migrate"),
		"deployment.yaml": wavedDeployment,
		"after.yaml":      wavedConfigMap("after", "argocd.argoproj.io/sync-wave", "1"),
	})
	f.create("shop", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = nil
		a.Spec.SyncPolicy.WaveTimeout = &metav1.Duration{Duration: time.Minute}
	})
	f.waitCompared("shop")
	f.requestSync("shop", "waves", gitopsv1alpha1.ApplicationSyncSpec{})
	app := f.waitFor("shop", "the sync in waves finished", operationDone("waves", gitopsv1alpha1.OperationSucceeded))
	f.waitFor("shop", "Synced", synced(sha))

	schemaCreated := f.waitSeen(h, "ConfigMap", "schema", "created")
	jobCreated := f.waitSeen(h, "Job", "migrate", "created")
	jobDone := f.waitSeen(h, "Job", "migrate", "ready")
	webCreated := f.waitSeen(h, "Deployment", "web", "created")
	webAvailable := f.waitSeen(h, "Deployment", "web", "ready")
	afterCreated := f.waitSeen(h, "ConfigMap", "after", "created")
	if inOrder := schemaCreated < jobCreated && jobDone < webCreated && webAvailable < afterCreated; !inOrder {
		t.Errorf("waves out of order (each must start after the one before is Healthy):%s", h)
	}

	steps := app.Status.Operation.Steps
	var got []string
	for _, s := range steps {
		got = append(got, fmt.Sprintf("%s %d %s %d", s.Type, s.Wave, s.Phase, s.Objects))
	}
	want := []string{"Wave -2 Succeeded 1", "Wave -1 Succeeded 1", "Wave 0 Succeeded 1", "Wave 1 Succeeded 1"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("operation steps: %v, want %v", got, want)
	}

	// Everything leaves Git: the highest wave is deleted first.
	f.commit(map[string]string{"schema.yaml": "", "migrate.yaml": "", "deployment.yaml": "", "after.yaml": "", "keep.yaml": configMap("keep", "1")})
	f.requestSync("shop", "prune", gitopsv1alpha1.ApplicationSyncSpec{Prune: true})
	f.waitFor("shop", "the pruning sync finished", operationDone("prune", gitopsv1alpha1.OperationSucceeded))
	afterDeleted := f.waitSeen(h, "ConfigMap", "after", "deleted")
	webDeleted := f.waitSeen(h, "Deployment", "web", "deleted")
	schemaDeleted := f.waitSeen(h, "ConfigMap", "schema", "deleted")
	if inOrder := afterDeleted < webDeleted && webDeleted < schemaDeleted; !inOrder {
		t.Errorf("pruned out of wave order (highest wave first):%s", h)
	}
}

// TestAWaveThatFailsStopsTheSync: a wave whose Job fails stops the sync at once, and a wave whose
// Deployment cannot become Available stops it at spec.syncPolicy.waveTimeout; either way the
// operation fails naming the object, and the later waves are not applied.
func TestAWaveThatFailsStopsTheSync(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{
		"migrate.yaml": migrationJob("migrate", "0", fmt.Sprintf("%s: %q", localstack.FailLabel, "true")),
		"after.yaml":   wavedConfigMap("after", "gitops.ferry.dev/sync-wave", "1"),
	})
	f.create("failing", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = nil
		a.Spec.SyncPolicy.WaveTimeout = &metav1.Duration{Duration: time.Hour} // a failed Job needs no waiting
	})
	f.waitCompared("failing")
	f.requestSync("failing", "job", gitopsv1alpha1.ApplicationSyncSpec{})
	app := f.waitFor("failing", "the sync failed", operationDone("job", gitopsv1alpha1.OperationFailed))
	if msg := app.Status.Operation.Message; !strings.Contains(msg, "wave 0") || !strings.Contains(msg, "Job/migrate is Degraded") {
		t.Errorf("operation message %q does not say that wave 0's Job failed", msg)
	}
	if _, ok := f.liveValue("after"); ok {
		t.Error("wave 1 was applied after wave 0 failed")
	}
	// The failure's reason is in a Warning Event (a manual Application's next comparison
	// rewrites its conditions).
	f.waitEvent("failing", corev1.EventTypeWarning, gitopsv1alpha1.ReasonWaveFailed)

	// A Deployment no Node can run stays Progressing: the wave times out.
	stuck := strings.Replace(wavedDeployment, "    spec:\n      containers:", "    spec:\n      nodeSelector: {no-such-label: x}\n      containers:", 1)
	stuck = strings.Replace(stuck, "envFrom: [{configMapRef: {name: schema}}]", "env: [{name: A, value: b}]", 1)
	f.commit(map[string]string{"migrate.yaml": "", "deployment.yaml": stuck})
	f.update("failing", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.WaveTimeout = &metav1.Duration{Duration: 2 * time.Second}
	})
	f.requestSync("failing", "stuck", gitopsv1alpha1.ApplicationSyncSpec{})
	app = f.waitFor("failing", "the sync timed out", operationDone("stuck", gitopsv1alpha1.OperationFailed))
	if msg := app.Status.Operation.Message; !strings.Contains(msg, "Deployment/web is Progressing") || !strings.Contains(msg, "spec.syncPolicy.waveTimeout") {
		t.Errorf("operation message %q does not name the Deployment and the wave timeout", msg)
	}
	if _, ok := f.liveValue("after"); ok {
		t.Error("wave 1 was applied although wave 0 never became Healthy")
	}
	if steps := app.Status.Operation.Steps; len(steps) != 2 || steps[0].Phase != gitopsv1alpha1.OperationFailed || steps[1].Phase != gitopsv1alpha1.OperationPending {
		t.Errorf("operation steps %+v, want wave 0 Failed and wave 1 Pending", steps)
	}
}

// TestWithinAWaveKindsAreCreatedInOrder: a first sync creates a ServiceAccount, then the
// ConfigMap, then the Service, then the Deployment that uses them all (etcd revisions).
func TestWithinAWaveKindsAreCreatedInOrder(t *testing.T) {
	f := newFixture(t)
	h := f.watchHistory(f.dest)
	deployment := strings.Replace(wavedDeployment, "    spec:\n      containers:", "    spec:\n      serviceAccountName: web\n      containers:", 1)
	sha := f.commit(map[string]string{
		"a-deployment.yaml": deployment,
		"b-service.yaml":    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports: [{port: 80}]\n",
		"c-schema.yaml":     configMap("schema", "v1"),
		"d-sa.yaml":         "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n",
	})
	f.create("ordered", nil)
	f.waitFor("ordered", "Synced", synced(sha))
	sa := f.waitSeen(h, "ServiceAccount", "web", "created")
	cm := f.waitSeen(h, "ConfigMap", "schema", "created")
	svc := f.waitSeen(h, "Service", "web", "created")
	deploy := f.waitSeen(h, "Deployment", "web", "created")
	if inOrder := sa < cm && cm < svc && svc < deploy; !inOrder {
		t.Errorf("created out of kind order (ServiceAccount, ConfigMap, Service, Deployment):%s", h)
	}
}
