package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
	"github.com/ferry-gitops/ferry/pkg/gitops/hooks"
)

var pvcs = schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}

func pvcDoc(name string, annotations string) string {
	return "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: " + name + "\n  annotations: {" + annotations + "}\n" +
		"spec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: 1Gi}}\n"
}

// TestAHookDeletesOnlyItsOwnPreviousRun: Application B's PreSync hook is named like Application
// A's PersistentVolumeClaim (and like a claim someone made by hand). Running B's hook deletes
// neither: the error names the object and whose it is. Tracking annotations and labels that
// B's Git writes on the hook, naming A, are replaced by Ferry's own, so B's hook cannot pass
// for A's object either. B's own previous run is deleted as before.
func TestAHookDeletesOnlyItsOwnPreviousRun(t *testing.T) {
	a, _, ns := countedApplier(t, "hookowner")
	ctx := context.Background()
	appA := apply.App{Namespace: "team-a", Name: "db"}
	appB := apply.App{Namespace: "team-b", Name: "tool"}
	opts := apply.Options{DefaultNamespace: ns}
	if _, err := prepareAndApply(t, a, appA, "", objects(t, pvcDoc("data", "")), opts); err != nil {
		t.Fatal(err)
	}
	dc := dynamic.NewForConfigOrDie(requireCluster(t))
	byHand := objects(t, pvcDoc("scratch", ""))[0]
	if _, err := dc.Resource(pvcs).Namespace(ns).Create(ctx, byHand, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// B's hooks, as its Git writes them: one even claims A's tracking annotation and label.
	dataRef := apply.ObjectRef{Version: "v1", Kind: "PersistentVolumeClaim", Namespace: ns, Name: "data"}
	forged := `gitops.ferry.dev/hook: PreSync, ` + apply.TrackingAnnotation + `: "` + apply.TrackingID(appA, dataRef) + `", ` + hooks.OfAnnotation + `: team-a/db`
	hookObjs := objects(t, pvcDoc("data", forged), pvcDoc("scratch", `gitops.ferry.dev/hook: PreSync`))
	hookObjs[0].SetLabels(map[string]string{apply.AppLabel: appA.LabelValue()})
	if err := a.Prepare(ctx, appB, "", hookObjs, ns); err != nil {
		t.Fatal(err)
	}
	if ann := hookObjs[0].GetAnnotations(); ann[apply.TrackingAnnotation] != "" || ann[hooks.OfAnnotation] != "team-b/tool" || hookObjs[0].GetLabels()[apply.AppLabel] != "" {
		t.Errorf("B's hook keeps what its Git wrote in Ferry's keys: annotations %v, labels %v", ann, hookObjs[0].GetLabels())
	}

	for _, tc := range []struct{ name, owner string }{
		{"data", "managed by Application team-a/db"},
		{"scratch", "no Application made it"},
	} {
		ref := apply.ObjectRef{Version: "v1", Kind: "PersistentVolumeClaim", Namespace: ns, Name: tc.name}
		err := a.DeleteHook(ctx, "", appB, ref, true, 10*time.Second)
		var owned *apply.HookOwnerError
		if !errors.As(err, &owned) || !strings.Contains(err.Error(), "PersistentVolumeClaim/"+ns+"/"+tc.name) || !strings.Contains(err.Error(), tc.owner) {
			t.Errorf("B's hook over %s: %v; want a HookOwnerError naming the claim and saying %q", tc.name, err, tc.owner)
		}
		live, err := get(t, pvcs, ns, tc.name)
		if err != nil || live.GetDeletionTimestamp() != nil {
			t.Errorf("B's hook deleted %s (%v)", tc.name, err)
		}
	}

	// B's own previous run of a hook is deleted, as BeforeHookCreation says.
	own := objects(t, pvcDoc("tool-run", `gitops.ferry.dev/hook: PreSync`))[0]
	if err := a.Prepare(ctx, appB, "", []*unstructured.Unstructured{own}, ns); err != nil {
		t.Fatal(err)
	}
	created, err := a.CreateHook(ctx, "", own)
	if err != nil {
		t.Fatal(err)
	}
	// Not A's to delete, though it is a hook.
	if err := a.DeleteHook(ctx, "", appA, apply.RefOf(created), false, 0); err == nil || !strings.Contains(err.Error(), "it is a hook of Application team-b/tool") {
		t.Errorf("A's hook over B's hook run: %v; want an error naming B", err)
	}
	if err := a.DeleteHook(ctx, "", appB, apply.RefOf(created), false, 0); err != nil {
		t.Fatalf("deleting B's own hook run: %v", err)
	}
	if live, err := get(t, pvcs, ns, "tool-run"); err == nil && live.GetDeletionTimestamp() == nil {
		t.Error("B's own previous hook run was not deleted")
	}
}
