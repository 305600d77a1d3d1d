package application

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

// deleteApp starts the deletion of an Application as the API server does for an object with
// finalizers: it sets deletionTimestamp and waits for them.
func (f *fixture) deleteApp(name string) {
	f.t.Helper()
	app := f.get(name)
	now := metav1.Now()
	app.DeletionTimestamp = &now
	if _, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).Update(f.t.Context(), app, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func finalized(a *gitopsv1alpha1.Application) bool { return !hasFinalizer(a) }

// TestDeletingAnApplicationDeletesWhatItDeployed: the prune finalizer is added on first sight;
// deleting the Application deletes its objects, then releases it.
func TestDeletingAnApplicationDeletesWhatItDeployed(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1"), "other.yaml": configMap("other", "1")})
	f.create("web", nil)
	app := f.waitFor("web", "synced", synced(sha))
	if !hasFinalizer(app) {
		t.Fatalf("no %s finalizer on a synced Application: %v", gitopsv1alpha1.PruneFinalizer, app.Finalizers)
	}

	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	for _, name := range []string{"settings", "other"} {
		if _, ok := f.liveValue(name); ok {
			t.Errorf("%s survived the deletion of its Application", name)
		}
	}
}

// TestOrphanDeletionPolicyKeepsTheObjects: with the orphan deletion policy, deleting the
// Application leaves what it deployed.
func TestOrphanDeletionPolicyKeepsTheObjects(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) {
		a.Annotations = map[string]string{gitopsv1alpha1.DeletionPolicyAnnotation: gitopsv1alpha1.DeletionPolicyOrphan}
	})
	f.waitFor("web", "synced", synced(sha))

	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	if v, ok := f.liveValue("settings"); !ok || v != "1" {
		t.Errorf("orphan policy: settings exists=%v value %q after the Application was deleted", ok, v)
	}
}

// grantAdmin binds the admin ClusterRole in namespace to ServiceAccount sa of the Applications'
// namespace, as a team's RoleBinding does, and returns the binding's name.
func (f *fixture) grantAdmin(namespace, sa string) string {
	f.t.Helper()
	name := "ferry-test-" + sa
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: appNamespace, Name: sa}},
	}
	if _, err := f.kube.RbacV1().RoleBindings(namespace).Create(f.t.Context(), rb, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	return name
}

// waitEventSaying waits for a Warning Event of reason about the Application name whose message
// holds every one of want.
func (f *fixture) waitEventSaying(name, reason string, want ...string) {
	f.t.Helper()
	eventually.Until(f.t, 60*time.Second, 100*time.Millisecond, fmt.Sprintf("a Warning Event %s about %s saying %q", reason, name, want), func() (bool, string) {
		list, err := f.kube.CoreV1().Events(appNamespace).List(f.t.Context(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
	events:
		for _, e := range list.Items {
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Message)
			if e.Type != corev1.EventTypeWarning || e.Reason != reason || e.InvolvedObject.UID != types.UID("uid-"+name) {
				continue
			}
			for _, w := range want {
				if !strings.Contains(e.Message, w) {
					continue events
				}
			}
			return true, ""
		}
		return false, fmt.Sprint("events: ", seen)
	})
}

// TestDeletingARefusedApplicationDoesNotWait: an Application whose ServiceAccount may do nothing
// never created anything; deleting it does not wait on objects its identity may not even read.
func TestDeletingARefusedApplicationDoesNotWait(t *testing.T) {
	f := newFixture(t)
	f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Spec.ServiceAccountName = "powerless" })
	f.waitFor("web", "refused", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionReady)
		return c != nil && c.Reason == gitopsv1alpha1.ReasonForbidden && hasFinalizer(a)
	})

	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	f.waitEventSaying("web", ReasonLeftBehind, "ConfigMap/"+f.dest+"/settings", "may not read it")
}

// TestDeletionLeavesWhatItsIdentityMayNoLongerDelete: the Application's ServiceAccount lost its
// RoleBinding; deleting the Application does not retry forever: it lets the Application go, the
// object stays, and a Warning Event names it.
func TestDeletionLeavesWhatItsIdentityMayNoLongerDelete(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	binding := f.grantAdmin(f.dest, "deployer")
	f.create("web", func(a *gitopsv1alpha1.Application) { a.Spec.ServiceAccountName = "deployer" })
	f.waitFor("web", "synced", synced(sha))

	if err := f.kube.RbacV1().RoleBindings(f.dest).Delete(t.Context(), binding, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	if _, ok := f.liveValue("settings"); !ok {
		t.Error("settings is gone, though the Application's identity may no longer delete it")
	}
	f.waitEventSaying("web", ReasonLeftBehind, "ConfigMap/"+f.dest+"/settings", "system:serviceaccount:"+appNamespace+":deployer")
}

// TestAFinalizerThatCannotFinishGivesUpAfterItsTimeout: the Application's cluster is gone, so
// nothing can be pruned; after the finalizer timeout the Application goes anyway, and a Warning
// Event names what was not deleted.
func TestAFinalizerThatCannotFinishGivesUpAfterItsTimeout(t *testing.T) {
	f := newFixtureWith(t, func(c *Config) { c.FinalizerTimeout = 3 * time.Second })
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", nil)
	f.waitFor("web", "synced", synced(sha))
	f.update("web", func(a *gitopsv1alpha1.Application) { a.Spec.Destination.Cluster = "vanished" })
	f.waitFor("web", "ClusterUnavailable", clusterUnavailable("vanished"))

	f.deleteApp("web")
	f.waitFor("web", "finalizer removed", finalized)
	f.waitEventSaying("web", ReasonLeftBehind, "ConfigMap/"+f.dest+"/settings", "--finalizer-timeout 3s")
}

// TestTheOrphanFinalizerKeepsTheObjects: a deletion with propagationPolicy Orphan that reached
// the controller with the garbage collector's orphan finalizer prunes nothing.
func TestTheOrphanFinalizerKeepsTheObjects(t *testing.T) {
	f := newFixture(t)
	sha := f.commit(map[string]string{"settings.yaml": configMap("settings", "1")})
	f.create("web", nil)
	f.waitFor("web", "synced", synced(sha))

	app := f.get("web")
	now := metav1.Now()
	app.DeletionTimestamp = &now
	app.Finalizers = append(app.Finalizers, metav1.FinalizerOrphanDependents)
	if _, err := f.ferry.GitopsV1alpha1().Applications(appNamespace).Update(t.Context(), app, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.waitFor("web", "finalizer removed", finalized)
	if v, ok := f.liveValue("settings"); !ok || v != "1" {
		t.Errorf("orphan: settings exists=%v value %q after the Application was deleted", ok, v)
	}
}

// TestAnApplicationWhoseNamespaceIsDeletedStopsSyncingAndGoes: the Application's own namespace
// is being deleted. It no longer syncs, and says why; deleted, it leaves the objects in its
// namespace to the namespace's deletion and prunes the one elsewhere.
func TestAnApplicationWhoseNamespaceIsDeletedStopsSyncingAndGoes(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	own := f.dest + "-own"
	if _, err := f.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: own}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A ConfigMap with a finalizer of the test's keeps the namespace Terminating while the test
	// looks at it.
	const hold = "test.ferry.dev/hold"
	held := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "hold", Namespace: own, Finalizers: []string{hold}}}
	if _, err := f.kube.CoreV1().ConfigMaps(own).Create(ctx, held, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = f.kube.CoreV1().ConfigMaps(own).Patch(context.Background(), "hold", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		_ = f.kube.CoreV1().Namespaces().Delete(context.Background(), own, metav1.DeleteOptions{})
	})
	sha := f.commit(map[string]string{
		"inside.yaml":    fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: inside\n  namespace: %s\ndata:\n  value: \"1\"\n", own),
		"elsewhere.yaml": configMap("elsewhere", "1"),
	})
	apps := f.ferry.GitopsV1alpha1().Applications(own)
	get := func() *gitopsv1alpha1.Application {
		app, err := apps.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return app
	}
	wait := func(what string, cond func(*gitopsv1alpha1.Application) bool) {
		eventually.Until(t, 60*time.Second, 100*time.Millisecond, what, func() (bool, string) {
			app := get()
			return cond(app), describe(app)
		})
	}
	app := &gitopsv1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Namespace: own, Name: "web", Generation: 1, UID: "uid-own-web"},
		Spec: gitopsv1alpha1.ApplicationSpec{
			Source:      gitopsv1alpha1.ApplicationSource{RepoURL: f.repo.URL(), Path: "app", Revision: "main"},
			Destination: gitopsv1alpha1.ApplicationDestination{Namespace: f.dest},
			SyncPolicy:  gitopsv1alpha1.SyncPolicy{Automated: &gitopsv1alpha1.AutomatedSyncPolicy{}, Interval: &metav1.Duration{Duration: time.Second}},
		},
	}
	if _, err := apps.Create(ctx, app, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("synced", synced(sha))

	if err := f.kube.CoreV1().Namespaces().Delete(ctx, own, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("not syncing, saying why", func(a *gitopsv1alpha1.Application) bool {
		c := findCondition(a.Status.Conditions, gitopsv1alpha1.ConditionReady)
		return c != nil && c.Reason == gitopsv1alpha1.ReasonNamespaceTerminating && strings.Contains(c.Message, own)
	})

	for {
		app := get()
		now := metav1.Now()
		app.DeletionTimestamp = &now
		_, err := apps.Update(ctx, app, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	wait("finalizer removed", finalized)
	f.waitLive("elsewhere", "", false)
}
