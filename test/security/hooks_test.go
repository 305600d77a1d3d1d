package security

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
)

// TestAttackHookDeletesAnotherApplicationsObject is the hook of the README's table: Application
// b's PreSync hook is a PersistentVolumeClaim named like Application a's claim (the default
// delete policy, BeforeHookCreation, deletes the previous run of a hook before running it
// again), and its Git even writes a's tracking annotation on it. a's claim, and its data, stay:
// b's sync fails with HookFailed, naming the claim and a as its owner.
func TestAttackHookDeletesAnotherApplicationsObject(t *testing.T) {
	requireStack(t)
	ns := newTenant(t, "hooks")
	pvc := func(annotations string) string {
		return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\n  annotations: {" + annotations + "}\n" +
			"spec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n"
	}
	repo := gittest.NewServer(t).NewRepo("hooks")
	repo.Commit("main", map[string]string{
		"a/data.yaml": pvc(""),
		"b/hook.yaml": pvc(`gitops.ferry.dev/hook: PreSync, gitops.ferry.dev/tracking-id: "` + ns + `/a:/PersistentVolumeClaim:` + ns + `/data"`),
		"b/cm.yaml":   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: v}\n",
	}, "two teams' Applications")

	ctx := ctxFor(t)
	createApp(t, editor, newApp(ns, "a", repo.URL(), "a"))
	waitForApp(t, ns, "a", 2*time.Minute, "Synced", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced
	})
	before, err := kube(t, admin).CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	must(t, err)

	createApp(t, editor, newApp(ns, "b", repo.URL(), "b"))
	app := waitForApp(t, ns, "b", 2*time.Minute, "its sync fails with HookFailed", func(a *gitopsv1alpha1.Application) bool {
		c := condition(a, "Ready")
		return c != nil && c.Reason == gitopsv1alpha1.ReasonHookFailed
	})
	msg := condition(app, "Ready").Message
	if op := app.Status.Operation; op != nil {
		msg += " | " + op.Message
		for _, s := range op.Steps {
			msg += " | " + s.Message
		}
	}
	t.Logf("b: %s", msg)
	for _, want := range []string{"PersistentVolumeClaim/" + ns + "/data", "Application " + ns + "/a"} {
		if !strings.Contains(msg, want) {
			t.Errorf("b's failure does not name %q: %s", want, msg)
		}
	}
	after, err := kube(t, admin).CoreV1().PersistentVolumeClaims(ns).Get(ctx, "data", metav1.GetOptions{})
	switch {
	case err != nil:
		t.Fatalf("a's claim is gone: %v", err)
	case after.UID != before.UID:
		t.Errorf("a's claim was deleted and replaced (uid %s, then %s)", before.UID, after.UID)
	case after.DeletionTimestamp != nil:
		t.Errorf("a's claim is being deleted")
	}
	if _, err := kube(t, admin).CoreV1().ConfigMaps(ns).Get(ctx, "b", metav1.GetOptions{}); err == nil {
		t.Error("b applied its objects although its PreSync hook failed")
	}
}
