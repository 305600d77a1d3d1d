package apply_test

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/ferry-gitops/ferry/pkg/gitops/apply"
)

func keyOf(t *testing.T, ns, name string) string {
	t.Helper()
	live, err := get(t, configMaps, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	return live.Object["data"].(map[string]any)["key"].(string)
}

// TestAnObjectOfAnotherApplicationIsLeftAlone: Application B's Git names a ConfigMap that
// Application A manages. B's sync leaves it exactly as A made it, says so (SharedResource, with
// A as owner), applies the rest, and B's prune never deletes it. An object no Application
// tracks is adopted, and says so.
func TestAnObjectOfAnotherApplicationIsLeftAlone(t *testing.T) {
	a, _, ns := countedApplier(t, "shared")
	appA := apply.App{Namespace: "team-a", Name: "a"}
	appB := apply.App{Namespace: "team-b", Name: "b"}
	opts := apply.Options{DefaultNamespace: ns}
	if _, err := prepareAndApply(t, a, appA, "", objects(t, cmDoc("shared", "from-a")), opts); err != nil {
		t.Fatal(err)
	}
	// Someone made this one by hand.
	dc := dynamic.NewForConfigOrDie(requireCluster(t))
	found := objects(t, cmDoc("found", "by-hand"))[0]
	if _, err := dc.Resource(configMaps).Namespace(ns).Create(context.Background(), found, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	for _, cached := range []bool{false, true} {
		o := opts
		if cached {
			o.Cached = currentCache(t)
		}
		results, err := prepareAndApply(t, a, appB, "", objects(t, cmDoc("shared", "from-b"), cmDoc("mine", "b"), cmDoc("found", "from-b")), o)
		if err != nil {
			t.Fatalf("cache %v: %v", cached, err)
		}
		byName := map[string]apply.Result{}
		for _, r := range results {
			byName[r.Ref.Name] = r
		}
		sharedRef := apply.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "shared"}
		if r := byName["shared"]; r.Action != apply.Shared || r.Owner != apply.TrackingID(appA, sharedRef) || apply.OwnerApp(r.Owner) != "team-a/a" {
			t.Errorf("cache %v: shared: %+v, want SharedResource owned by team-a/a", cached, r)
		}
		if got := keyOf(t, ns, "shared"); got != "from-a" {
			t.Errorf("cache %v: B changed A's object to %q", cached, got)
		}
		if r := byName["mine"]; r.Action != apply.Created && r.Action != apply.Unchanged {
			t.Errorf("cache %v: the rest of the set: %+v", cached, r)
		}
		if !cached {
			if r := byName["found"]; !r.Adopted || r.Action != apply.Configured {
				t.Errorf("the untracked object: %+v, want Configured and Adopted", r)
			}
		}
	}
	if got := keyOf(t, ns, "found"); got != "from-b" {
		t.Errorf("the adopted object has %q, want Git's from-b", got)
	}

	// B's prune of everything it ever listed leaves A's object.
	previous := []apply.ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "shared"}, {Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "mine"}}
	if _, err := a.Prune(context.Background(), appB, "", previous, []*unstructured.Unstructured{}, false); err != nil {
		t.Fatal(err)
	}
	if got := keyOf(t, ns, "shared"); got != "from-a" {
		t.Errorf("after B's prune A's object is %q", got)
	}
	if _, err := get(t, configMaps, ns, "mine"); err == nil {
		t.Error("B's own object survived B's prune")
	}
}
