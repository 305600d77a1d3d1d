package syncwindow_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	etcd3testing "k8s.io/apiserver/pkg/storage/etcd3/testing"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/syncwindow"
)

type restOptionsGetter struct{ config *storagebackend.Config }

func (g restOptionsGetter) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{StorageConfig: g.config.ForResource(resource), Decorator: generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1, ResourcePrefix: resource.Group + "/" + resource.Resource}, nil
}

// TestASyncWindowIsValidatedFieldByField: a kind other than allow or deny, a schedule that is not
// five cron fields (a descriptor, seconds, its own time zone), a duration that is not positive, a
// time zone that does not exist and a missing or broken selector are each refused naming their
// field, before anything is stored; a good window is stored and listed for the registry's gate.
func TestASyncWindowIsValidatedFieldByField(t *testing.T) {
	server, config := etcd3testing.NewUnsecuredEtcd3TestClientServer(t)
	t.Cleanup(func() { server.Terminate(t) })
	config.Codec = apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion)
	st, err := syncwindow.NewStorage(apiserver.Scheme, restOptionsGetter{config})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.DestroyFunc)
	ctx := genericapirequest.WithNamespace(context.Background(), "team")
	good := func() *gitops.SyncWindow {
		return &gitops.SyncWindow{ObjectMeta: metav1.ObjectMeta{Name: "freeze", Namespace: "team"}, Spec: gitops.SyncWindowSpec{
			Kind: "deny", Schedule: "0 18 * * 5", Duration: metav1.Duration{Duration: 64 * time.Hour}, TimeZone: "Europe/Berlin",
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "prod"}},
		}}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*gitops.SyncWindow)
		want   string
	}{
		{"no kind", func(w *gitops.SyncWindow) { w.Spec.Kind = "" }, "spec.kind: Required value"},
		{"unknown kind", func(w *gitops.SyncWindow) { w.Spec.Kind = "block" }, `spec.kind: Unsupported value: "block"`},
		{"no schedule", func(w *gitops.SyncWindow) { w.Spec.Schedule = "" }, "spec.schedule: Required value"},
		{"four fields", func(w *gitops.SyncWindow) { w.Spec.Schedule = "0 18 * *" }, `spec.schedule: Invalid value: "0 18 * *"`},
		{"seconds", func(w *gitops.SyncWindow) { w.Spec.Schedule = "0 0 18 * * 5" }, "spec.schedule: Invalid value"},
		{"out of range", func(w *gitops.SyncWindow) { w.Spec.Schedule = "0 24 * * *" }, "spec.schedule: Invalid value"},
		{"descriptor", func(w *gitops.SyncWindow) { w.Spec.Schedule = "@every 1h" }, "spec.schedule: Invalid value"},
		{"its own time zone", func(w *gitops.SyncWindow) { w.Spec.Schedule = "CRON_TZ=UTC 0 18 * * 5" }, "the time zone goes in spec.timeZone"},
		{"no duration", func(w *gitops.SyncWindow) { w.Spec.Duration.Duration = 0 }, `spec.duration: Invalid value: "0s": must be greater than zero`},
		{"negative duration", func(w *gitops.SyncWindow) { w.Spec.Duration.Duration = -time.Hour }, "spec.duration: Invalid value"},
		{"unknown time zone", func(w *gitops.SyncWindow) { w.Spec.TimeZone = "Europe/Atlantis" }, `spec.timeZone: Invalid value: "Europe/Atlantis": not an IANA time zone name`},
		{"no selector", func(w *gitops.SyncWindow) { w.Spec.Selector = nil }, "spec.selector: Required value"},
		{"broken selector", func(w *gitops.SyncWindow) {
			w.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}}
		}, "spec.selector.matchExpressions[0].operator"},
	} {
		w := good()
		tc.mutate(w)
		_, err := st.Create(ctx, w, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error saying %q, got %v", tc.name, tc.want, err)
		}
	}
	if _, err := st.Create(ctx, good(), rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatalf("a good SyncWindow: %v", err)
	}
	listed, err := st.ListIn(context.Background(), "team")
	if err != nil || len(listed) != 1 || listed[0].Spec.Schedule != "0 18 * * 5" || listed[0].Spec.Selector.MatchLabels["tier"] != "prod" {
		t.Errorf("ListIn(team) = %+v, %v; want the window", listed, err)
	}
	if other, err := st.ListIn(context.Background(), "other"); err != nil || len(other) != 0 {
		t.Errorf("ListIn(other) = %+v, %v; want none", other, err)
	}
}
