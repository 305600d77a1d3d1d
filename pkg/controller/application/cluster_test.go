package application

import (
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/remote"
)

// registerRemote registers the test's control plane as the remote cluster name, reached
// through the registry with a token, as a Cluster object would make it.
func (f *fixture) registerRemote(name string) {
	f.t.Helper()
	ca, err := os.ReadFile(f.cfg.CAFile)
	if err != nil {
		f.t.Fatal(err)
	}
	conn, err := remote.ConnectionFor(gitopsv1alpha1.ClusterSpec{Server: f.cfg.Host, CABundle: ca},
		map[string][]byte{gitopsv1alpha1.ClusterTokenKey: []byte(f.cfg.BearerToken)})
	if err != nil {
		f.t.Fatal(err)
	}
	f.clusters.Set(name, conn)
	f.setReady(name, true, "")
}

func (f *fixture) setReady(name string, ready bool, why string) {
	f.clusters.SetReady(name, ready, why)
	f.ctrl.ClusterChanged(name)
}

// clusterUnavailable: sync and health Unknown, Ready=False with reason ClusterUnavailable
// naming the cluster.
func clusterUnavailable(cluster string) func(*gitopsv1alpha1.Application) bool {
	return func(a *gitopsv1alpha1.Application) bool {
		c := meta.FindStatusCondition(a.Status.Conditions, gitopsv1alpha1.ConditionReady)
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusUnknown && a.Status.Health.Status == gitopsv1alpha1.HealthUnknown &&
			c != nil && c.Reason == gitopsv1alpha1.ReasonClusterUnavailable && strings.Contains(c.Message, `cluster "`+cluster+`"`)
	}
}

// TestAnApplicationDeploysToTheClusterItNames: an Application naming a registered cluster
// deploys there through that cluster's client. When the cluster stops being Ready its status
// says so, naming it, with sync and health Unknown, and nothing is pruned; when it is Ready
// again the Application recovers by itself and drift there is healed.
func TestAnApplicationDeploysToTheClusterItNames(t *testing.T) {
	f := newFixture(t)
	f.registerRemote("edge")
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "v1")})
	f.create("web", func(a *gitopsv1alpha1.Application) {
		a.Spec.Destination.Cluster = "edge"
		a.Spec.SyncPolicy.Automated.Prune = true
		a.Spec.SyncPolicy.Automated.SelfHeal = true
	})
	f.waitFor("web", "synced", synced(sha))
	f.waitLive("settings", "v1", true)

	f.setReady("edge", false, "cannot reach https://edge.example: connection refused")
	app := f.waitFor("web", "ClusterUnavailable", clusterUnavailable("edge"))
	if len(app.Status.Resources) != 1 || app.Status.Resources[0].Name != "settings" {
		t.Errorf("the inventory is %v, want the ConfigMap kept while the cluster is away", app.Status.Resources)
	}
	// A commit that removes the object while the cluster is away prunes nothing.
	f.commit(map[string]string{"settings.yaml": "", "other.yaml": configMap("other", "x")})
	f.update("web", func(a *gitopsv1alpha1.Application) { a.Annotations = map[string]string{"touched": "1"} })
	f.waitFor("web", "still ClusterUnavailable", clusterUnavailable("edge"))
	f.waitLive("settings", "v1", true)

	f.setReady("edge", true, "")
	f.waitLive("other", "x", true)
	f.waitLive("settings", "", false)

	// Drift on the remote cluster is watched through that cluster's watches and healed.
	cm, err := f.kube.CoreV1().ConfigMaps(f.dest).Get(t.Context(), "other", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["value"] = "edited by hand"
	if _, err := f.kube.CoreV1().ConfigMaps(f.dest).Update(t.Context(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitLive("other", "x", true)
}

// TestAnApplicationNamingAnUnknownClusterWaitsForIt: nothing is deployed anywhere, the status
// names the missing Cluster, and registering it deploys.
func TestAnApplicationNamingAnUnknownClusterWaitsForIt(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "v1")})
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Spec.Destination.Cluster = "later" })
	app := f.waitFor("web", "ClusterUnavailable", clusterUnavailable("later"))
	if c := meta.FindStatusCondition(app.Status.Conditions, gitopsv1alpha1.ConditionReady); !strings.Contains(c.Message, "no Cluster") {
		t.Errorf("the Ready message %q does not say the Cluster is not registered", c.Message)
	}
	if _, ok := f.liveValue("settings"); ok {
		t.Fatal("an Application whose cluster is unknown deployed into the cluster Ferry runs in")
	}
	f.registerRemote("later")
	f.waitFor("web", "synced", synced(sha))
}
