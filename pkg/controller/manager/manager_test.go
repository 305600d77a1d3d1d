package manager

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/controller/applicationset"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

const ns = "team-a"

// unreachable is a target cluster nothing answers at: the Leases cannot be taken there, and
// what the controllers would apply or watch fails at once. What these tests look at goes
// through the fake clientsets.
var unreachable = &rest.Config{Host: "http://127.0.0.1:1"}

// replica is one ferry-apiserver replica's manager over a fake Ferry API and a fake Kubernetes
// API, with a real Git cache.
type replica struct {
	ferry *fake.Clientset
	cache *source.Cache
}

// config is a replica's configuration over fake APIs holding objs; grace is its Git cache's.
func config(t *testing.T, grace time.Duration, objs ...runtime.Object) (Config, *replica) {
	t.Helper()
	cache, err := source.NewCache(source.Options{Dir: t.TempDir(), UnusedGracePeriod: grace})
	if err != nil {
		t.Fatal(err)
	}
	clusters := remote.NewRegistry(5, 10)
	r := &replica{
		// The simple tracker: NewClientset's field-managed one has no schema for Ferry's types.
		ferry: fake.NewSimpleClientset(objs...), //nolint:staticcheck
		cache: cache,
	}
	return Config{
		Ferry:                       r.ferry,
		Target:                      unreachable,
		Kube:                        kubefake.NewSimpleClientset(), //nolint:staticcheck
		Engine:                      engine.New(engine.Config{Source: cache, Applier: apply.NewApplier(unreachable), Clusters: clusters}),
		Clusters:                    clusters,
		ClusterCredentialsNamespace: "ferry-system",
		GitCacheUnusedGrace:         grace,
	}, r
}

// run runs the manager until the test ends.
func run(t *testing.T, cfg Config) {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		m.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
}

func newApplication(name, repoURL string) *gitopsv1alpha1.Application {
	return &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repoURL, Revision: "main", Path: "."},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: ns},
		},
	}
}

// TestOneReplicaWithoutLeaderElectionRunsEveryController: a single ferry-apiserver (no
// --leader-elect, no --shards) reconciles everything itself: its Applications and
// ApplicationSets get their finalizers, and its Clusters a status.
func TestOneReplicaWithoutLeaderElectionRunsEveryController(t *testing.T) {
	set := &gitopsv1alpha1.ApplicationSet{ObjectMeta: metav1.ObjectMeta{Name: "apps", Namespace: ns, Generation: 1}}
	cluster := &gitopsv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "east", Generation: 1},
		Spec: gitopsv1alpha1.ClusterSpec{Server: "https://127.0.0.1:1",
			CredentialsRef: gitopsv1alpha1.LocalObjectReference{Name: "east-credentials"}},
	}
	cfg, r := config(t, time.Hour, set, cluster, newApplication("web", "https://git.example.com/web.git"))
	run(t, cfg)

	apps := r.ferry.GitopsV1alpha1()
	eventually.Until(t, 30*time.Second, 20*time.Millisecond, "the Application, the ApplicationSet and the Cluster reconciled", func() (bool, string) {
		app, err := apps.Applications(ns).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		s, err := apps.ApplicationSets(ns).Get(context.Background(), "apps", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		cl, err := apps.Clusters().Get(context.Background(), "east", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := meta.FindStatusCondition(cl.Status.Conditions, gitopsv1alpha1.ClusterConditionReady)
		done := slices.Contains(app.Finalizers, gitopsv1alpha1.PruneFinalizer) && slices.Contains(s.Finalizers, applicationset.Finalizer) && ready != nil
		return done, "Application finalizers " + strings.Join(app.Finalizers, ",") +
			"; ApplicationSet finalizers " + strings.Join(s.Finalizers, ",") + "; Cluster Ready " + describe(ready)
	})
}

// TestAReplicaThatDoesNotLeadStillCollectsItsGitCache: every replica serves /diff and
// /manifests from its own Git cache, so a replica that never wins the election (here: the
// Lease cannot be reached at all) still removes the repositories no Application names once
// unused for the grace period, and keeps the ones an Application names.
func TestAReplicaThatDoesNotLeadStillCollectsItsGitCache(t *testing.T) {
	git := gittest.NewServer(t)
	used, unused := git.NewRepo("used"), git.NewRepo("unused")
	usedSHA := used.Commit("main", map[string]string{"cm.yaml": "kind: ConfigMap"}, "used")
	unusedSHA := unused.Commit("main", map[string]string{"cm.yaml": "kind: ConfigMap"}, "unused")

	const grace = 200 * time.Millisecond
	cfg, r := config(t, grace, newApplication("web", used.URL()))
	for _, repo := range []*gittest.Repo{used, unused} {
		if _, err := r.cache.Resolve(t.Context(), repo.URL(), "main", nil); err != nil {
			t.Fatalf("fetching %s into the cache: %v", repo, err)
		}
	}
	cfg.LeaderElection = LeaderElection{Enabled: true, Namespace: "ferry-system",
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second}
	run(t, cfg)

	eventually.Until(t, 30*time.Second, 50*time.Millisecond, "the unused repository removed from the cache", func() (bool, string) {
		_, err := r.cache.Commit(unused.URL(), unusedSHA)
		return err != nil, "its commit is still cached"
	})
	if _, err := r.cache.Commit(used.URL(), usedSHA); err != nil {
		t.Errorf("the repository an Application names was removed too: %v", err)
	}
}

// TestAConfigurationThatCannotWorkIsRefused: ferry-apiserver refuses to start, saying why, with
// no target cluster, or with shards but Lease timings the shards could not be held with (no
// --leader-elect needed for that); one replica without either needs no timings.
func TestAConfigurationThatCannotWorkIsRefused(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*Config)
		want      string // "" accepted
	}{
		{"no target cluster", func(c *Config) { c.Target = nil }, "the controllers need a target cluster"},
		{"shards with no lease timings", func(c *Config) { c.Shards = 3 }, "leader election: the lease duration 0s must be at least 1s"},
		{"automatic shards with no lease timings", func(c *Config) { c.Shards = ShardsAuto }, "leader election: the lease duration 0s must be at least 1s"},
		{"leader election with no lease timings", func(c *Config) { c.LeaderElection.Enabled = true }, "leader election: the lease duration 0s must be at least 1s"},
		{"one replica without timings", func(c *Config) { c.Shards = 1 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := config(t, time.Hour)
			tc.configure(&cfg)
			_, err := New(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("New returned %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func describe(c *metav1.Condition) string {
	if c == nil {
		return "missing"
	}
	return string(c.Status) + " " + c.Reason
}
