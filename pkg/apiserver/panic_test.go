package apiserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/apiserver"
	"github.com/ferry-gitops/ferry/pkg/gitops/gittest"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/testing/inprocess"
)

const forcedPanic = "forced panic in the render of apps/boom"

// TestPanicInOneApplicationLeavesTheOthersAndTheAPIWorking runs ferry-apiserver in-process
// against a real kube-apiserver with a renderer that panics for one path, standing for any bug a
// repository could trigger. That Application reports InternalError (condition, Event) and is
// retried with backoff; the others sync, the API answers, ferry_panics_total counts, and once
// the render stops panicking the Application syncs by itself.
func TestPanicInOneApplicationLeavesTheOthersAndTheAPIWorking(t *testing.T) {
	stack := apiserver.LocalStack()
	if stack == nil {
		t.Skip("needs a kube-apiserver; skipped with -short")
	}
	srv := gittest.NewServer(t)
	repo := srv.NewRepo("panics")
	repo.Commit("main", map[string]string{
		// The crash: a kustomization whose Service has port numbers.
		"apps/web/kustomization.yaml": "resources: [svc.yaml]\n",
		"apps/web/svc.yaml":           "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n",
		"apps/settings/cm.yaml":       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {replicas: \"3\"}\n",
		"apps/boom/cm.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: boom}\ndata: {k: v}\n",
	}, "first")

	var panicking atomic.Bool
	panicking.Store(true)
	ferry := inprocess.Start(t, inprocess.Options{TargetKubeconfig: stack.Kubeconfig(), Render: func(read render.TreeReader, dir string, opts render.Options) ([]*unstructured.Unstructured, error) {
		if dir == "apps/boom" && panicking.Load() {
			panic(forcedPanic)
		}
		return render.RenderTree(read, dir, opts)
	}})
	kube := kubernetes.NewForConfigOrDie(stack.RestConfig("admin"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dest := fmt.Sprintf("panics-%d", time.Now().UnixNano()%100000)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dest}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = kube.CoreV1().Namespaces().Delete(context.Background(), dest, metav1.DeleteOptions{}) })
	// The Applications name no ServiceAccount: they act as default/default, here admin of dest.
	deployer := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "deployer", Namespace: dest},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "default"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"},
	}
	if _, err := kube.RbacV1().RoleBindings(dest).Create(ctx, deployer, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	apps := ferry.Client.GitopsV1alpha1().Applications("default")
	create := func(name string) {
		t.Helper()
		app := &gitopsv1alpha1.Application{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: gitopsv1alpha1.ApplicationSpec{
				Source:      gitopsv1alpha1.ApplicationSource{RepoURL: repo.URL(), Revision: "main", Path: "apps/" + name},
				Destination: gitopsv1alpha1.ApplicationDestination{Namespace: dest},
				SyncPolicy: gitopsv1alpha1.SyncPolicy{
					Automated: &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true},
					Retry: &gitopsv1alpha1.RetryStrategy{Limit: ptr.To[int32](20), Backoff: &gitopsv1alpha1.Backoff{
						Duration: &metav1.Duration{Duration: time.Second}, Factor: ptr.To[int32](1), MaxDuration: &metav1.Duration{Duration: time.Second},
					}},
				},
			},
		}
		if _, err := apps.Create(ctx, app, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create Application %s: %v", name, err)
		}
	}
	waitFor := func(name, what string, cond func(*gitopsv1alpha1.Application) bool) *gitopsv1alpha1.Application {
		t.Helper()
		var last *gitopsv1alpha1.Application
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			app, err := apps.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			last = app
			return cond(app), nil
		})
		if err != nil {
			t.Fatalf("%s: %s: not within a minute; last status: %+v", name, what, last.Status)
		}
		return last
	}

	// The panicking Application first: the server must survive it and report it.
	create("boom")
	boom := waitFor("boom", "Ready=False with reason InternalError", func(a *gitopsv1alpha1.Application) bool {
		return condition(a, gitopsv1alpha1.ConditionReady).Reason == gitopsv1alpha1.ReasonInternalError
	})
	ready := condition(boom, gitopsv1alpha1.ConditionReady)
	if !strings.Contains(ready.Message, forcedPanic) {
		t.Errorf("the Ready message %q does not give the panic's value", ready.Message)
	}
	if strings.Contains(ready.Message, "goroutine") || strings.Contains(ready.Message, ".go:") {
		t.Errorf("the Ready message carries a stack trace: %q", ready.Message)
	}
	if s := condition(boom, gitopsv1alpha1.ConditionStalled); s.Status != metav1.ConditionFalse {
		t.Errorf("Stalled = %s/%s: a panic is Ferry's fault, retried, not the user's to fix", s.Status, s.Reason)
	}

	// The others sync, kustomize's numbers included.
	create("web")
	create("settings")
	for _, name := range []string{"web", "settings"} {
		waitFor(name, "Synced and Healthy", func(a *gitopsv1alpha1.Application) bool {
			return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && a.Status.Health.Status == gitopsv1alpha1.HealthHealthy
		})
	}
	svc, err := kube.CoreV1().Services(dest).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Service of the kustomization with numbers was not applied: %v", err)
	}
	if p := svc.Spec.Ports[0]; p.Port != 80 || p.TargetPort.IntValue() != 8080 {
		t.Errorf("Service ports %+v, want 80 -> 8080", svc.Spec.Ports)
	}

	// The API answers: lists, and the read subresources of the healthy and the panicking one.
	list, err := apps.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("listing Applications: %v (%d items)", err, len(list.Items))
	}
	manifests := func(name string) ([]byte, error) {
		// As JSON, which is what kubectl get --raw asks for.
		return kubernetes.NewForConfigOrDie(ferry.Config).Discovery().RESTClient().Get().
			AbsPath("/apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications", name, "manifests").DoRaw(ctx)
	}
	if body, err := manifests("web"); err != nil || !strings.Contains(string(body), `"port":80`) {
		t.Errorf("manifests of web: %v\n%s", err, body)
	}
	body, err := manifests("boom")
	var status metav1.Status
	if err == nil || json.Unmarshal(body, &status) != nil || status.Code != http.StatusInternalServerError ||
		status.Reason != metav1.StatusReasonInternalError || !strings.Contains(status.Message, forcedPanic) {
		t.Errorf("manifests of boom answered %v %s, want a 500 InternalError naming the panic", err, body)
	}

	// An Event says what happened.
	events, err := kube.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=boom,reason=" + gitopsv1alpha1.ReasonInternalError})
	if err != nil || len(events.Items) == 0 {
		t.Errorf("no InternalError Event for boom: %v", err)
	} else if e := events.Items[0]; e.Type != corev1.EventTypeWarning || !strings.Contains(e.Message, forcedPanic) {
		t.Errorf("Event %s %q", e.Type, e.Message)
	}

	// Retried with backoff: the counter on /metrics keeps rising while the render panics.
	first := panics(t, ctx, ferry.Config, "render")
	if first < 1 {
		t.Fatalf(`ferry_panics_total{boundary="render"} = %v on /metrics, want at least 1`, first)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return panics(t, ctx, ferry.Config, "render") > first, nil
	})
	if err != nil {
		t.Errorf("boom was not retried: ferry_panics_total stayed at %v", first)
	}

	// Once the render no longer panics, the retry syncs it without anyone's help.
	panicking.Store(false)
	waitFor("boom", "Synced after the render recovered", func(a *gitopsv1alpha1.Application) bool {
		return a.Status.Sync.Status == gitopsv1alpha1.SyncStatusSynced && condition(a, gitopsv1alpha1.ConditionReady).Status == metav1.ConditionTrue
	})
}

func condition(app *gitopsv1alpha1.Application, typ string) metav1.Condition {
	for _, c := range app.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// panics reads ferry_panics_total of one boundary from the server's /metrics.
func panics(t *testing.T, ctx context.Context, config *rest.Config, boundary string) float64 {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(config)
	body, err := client.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	m := regexp.MustCompile(`(?m)^ferry_panics_total\{boundary="` + boundary + `"\} (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
