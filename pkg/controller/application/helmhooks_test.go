package application

import (
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/testing/eventually"
)

const plainReplicaSet = `apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.k8s.io/e2e-test-images/agnhost:2.53, args: [pause]}]
`

// TestHelmHookAnnotationsOnAPlainDirectory: a plain directory written for `helm install` syncs as
// Argo CD syncs it. Its pre-install Jobs (one with generateName, one with a lower hook weight and
// hook-succeeded) complete, by weight, before the ReplicaSet exists; they are no part of the
// inventory and leave the Application Synced; the succeeded hook with hook-succeeded is deleted;
// a test hook is never created.
func TestHelmHookAnnotationsOnAPlainDirectory(t *testing.T) {
	f := newFixture(t)
	h := f.watchHistory(f.dest)
	sha := f.commit(map[string]string{
		"migrate.yaml":    hookJob("generateName: migrate-", `helm.sh/hook: pre-install`, "app: migrate"),
		"seed.yaml":       hookJob("name: seed", `helm.sh/hook: "pre-install,pre-upgrade", helm.sh/hook-weight: "-1", helm.sh/hook-delete-policy: hook-succeeded`, "app: seed"),
		"test.yaml":       hookJob("name: helm-test", `helm.sh/hook: test`, "app: helm-test"),
		"replicaset.yaml": plainReplicaSet,
	})
	f.create("shop", func(a *gitopsv1alpha1.Application) {
		a.Spec.SyncPolicy.Automated = nil
	})
	f.waitCompared("shop")
	f.requestSync("shop", "first", gitopsv1alpha1.ApplicationSyncSpec{Prune: true})
	app := f.waitFor("shop", "the sync with Helm's hooks finished", operationDone("first", gitopsv1alpha1.OperationSucceeded))
	if got, want := stepsOf(app), "PreSync Job/seed Succeeded, PreSync Job/migrate- Succeeded, wave 0 Succeeded"; got != want {
		t.Errorf("steps: %s, want %s", got, want)
	}
	f.waitFor("shop", "Synced", synced(sha))
	for _, r := range f.get("shop").Status.Resources {
		if r.Kind == "Job" {
			t.Errorf("a hook is in the inventory: %+v", r)
		}
	}

	migrations := f.jobs("migrate-")
	if len(migrations) != 1 {
		t.Fatalf("pre-install Jobs with generateName: %v, want one", migrations)
	}
	seeded := f.waitSeen(h, "Job", "seed", "ready")
	migrated := f.waitSeen(h, "Job", migrations[0], "ready")
	web := f.waitSeen(h, "ReplicaSet", "web", "created")
	if !(seeded < migrated && migrated < web) {
		t.Errorf("out of order (the weight -1 hook first, both complete before the ReplicaSet exists):%s", h)
	}

	eventually.Until(t, 60*time.Second, 100*time.Millisecond, "the hook-succeeded Job deleted", func() (bool, string) {
		_, err := f.kube.BatchV1().Jobs(f.dest).Get(t.Context(), "seed", metav1.GetOptions{})
		return apierrors.IsNotFound(err), "Job seed still exists"
	})
	if _, err := f.kube.BatchV1().Jobs(f.dest).Get(t.Context(), "helm-test", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the helm.sh/hook: test Job was created (err %v); a sync never runs test hooks", err)
	}
}
