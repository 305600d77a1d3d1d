package application

import (
	"strings"
	"testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func dependsOn(names ...string) func(*gitopsv1alpha1.Application) {
	return func(a *gitopsv1alpha1.Application) {
		for _, n := range names {
			a.Spec.DependsOn = append(a.Spec.DependsOn, gitopsv1alpha1.ApplicationReference{Name: n})
		}
	}
}

func atPath(path string, more ...func(*gitopsv1alpha1.Application)) func(*gitopsv1alpha1.Application) {
	return func(a *gitopsv1alpha1.Application) {
		a.Spec.Source.Path = path
		for _, m := range more {
			m(a)
		}
	}
}

// TestAnApplicationWaitsForItsDependencies: front depends on db; front's objects are created only
// after db's Deployment is Available (etcd revisions), and while it waits its Ready condition
// says for what.
func TestAnApplicationWaitsForItsDependencies(t *testing.T) {
	f := newFixture(t)
	h := f.watchHistory(f.dest)
	sha := f.repo.Commit("main", map[string]string{
		"db/deployment.yaml": wavedDeployment,
		"db/schema.yaml":     configMap("schema", "v1"),
		"front/front.yaml":   configMap("front", "v1"),
	}, "db and front")
	f.create("front", atPath("front", dependsOn("db")))
	f.waitFor("front", "waiting for db", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionReady)
		return c != nil && c.Reason == gitopsv1alpha1.ReasonDependencyNotReady && strings.Contains(c.Message, appNamespace+"/db (not found)")
	})
	f.create("db", atPath("db"))
	f.waitFor("front", "Synced", synced(sha))
	available := f.waitSeen(h, "Deployment", "web", "ready")
	front := f.waitSeen(h, "ConfigMap", "front", "created")
	if available >= front {
		t.Errorf("front was applied before db's Deployment was Available:%s", h)
	}
}

// TestADependencyCycleIsReported: a cycle the API could not see when it was written (here, the
// fake API sees none) is reported on both Applications, which apply nothing.
func TestADependencyCycleIsReported(t *testing.T) {
	f := newFixture(t)
	f.repo.Commit("main", map[string]string{"x/x.yaml": configMap("x", "1"), "y/y.yaml": configMap("y", "1")}, "x and y")
	f.create("x", atPath("x", dependsOn("y")))
	f.create("y", atPath("y", dependsOn("x")))
	for _, name := range []string{"x", "y"} {
		f.waitFor(name, "the cycle reported", func(a *gitopsv1alpha1.Application) bool {
			c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionReady)
			return c != nil && c.Reason == gitopsv1alpha1.ReasonDependencyNotReady && strings.Contains(c.Message, "cycle")
		})
		if _, ok := f.liveValue(name); ok {
			t.Errorf("%s applied its objects although its dependencies form a cycle", name)
		}
	}
}
