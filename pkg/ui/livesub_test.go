package ui

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

// TestTreeStreamsAPodThatBecomesReadyAndANewOne: the Tree page follows the Pods of the
// Application's namespace as the person: a Pod turning ready and a Pod added under the
// ReplicaSet are sent as a new tree; a Pod of another owner changes nothing on the page.
func TestTreeStreamsAPodThatBecomesReadyAndANewOne(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)
	app.Status.Resources = []gitopsv1alpha1.ResourceStatus{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "shop", UID: "rs-1", OwnerReferences: owner("Deployment", "web", "dep-1")}}
	pod := func(name, uid, rsName string, ready bool) *corev1.Pod {
		rsUID := types.UID("rs-1")
		if rsName != "web-5d8f" {
			rsUID = "rs-2"
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID(uid), OwnerReferences: owner("ReplicaSet", rsName, rsUID)},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: ready}}}}
	}
	kube := kubefake.NewClientset(rs, pod("web-5d8f-a", "p-a", "web-5d8f", false))
	pods := watch.NewFake()
	kube.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) { return true, pods, nil })
	u := startUIWith(t, Config{Client: fake.NewSimpleClientset(app), Kube: kube})
	cookie := u.login(t)
	_, page := u.do(t, "GET", "/applications/shop/web/tree", withCookie(cookie))
	if !strings.Contains(page, `data-events="/events?name=web&amp;namespace=shop&amp;view=tree"`) {
		t.Fatalf("the Tree page does not open its live stream:\n%s", page)
	}
	next := u.stream(t, cookie, "/events?view=tree&namespace=shop&name=web")
	until(t, next, "the tree as listed", `"id":"tree-live"`, "web-5d8f-a", "Running, 0/1 ready")
	go func() {
		pods.Add(pod("api-1", "p-x", "api-77aa", true)) // another owner's: the tree is the same
		pods.Modify(pod("web-5d8f-a", "p-a", "web-5d8f", true))
		pods.Add(pod("web-5d8f-b", "p-b", "web-5d8f", false))
	}()
	ev := until(t, next, "the ready Pod", "web-5d8f-a", "Running, 1/1 ready")
	if strings.Contains(ev, "api-1") {
		t.Errorf("the tree shows another owner's Pod: %s", ev)
	}
	until(t, next, "the new Pod under its ReplicaSet", "web-5d8f-b")
}

// TestTreeStreamKeepsSayingWhatThePersonMayNotList: Pods the person may not list are not
// followed, and every tree sent still says so where they would be.
func TestTreeStreamKeepsSayingWhatThePersonMayNotList(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)
	app.Status.Resources = []gitopsv1alpha1.ResourceStatus{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "shop", UID: "rs-1", OwnerReferences: owner("Deployment", "web", "dep-1")}}
	kube := kubefake.NewClientset(rs)
	kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden("pods", `User "viewer" cannot list resource "pods"`)
	})
	var podWatches atomic.Int32
	kube.PrependWatchReactor("pods", func(k8stesting.Action) (bool, watch.Interface, error) {
		podWatches.Add(1)
		return true, watch.NewFake(), nil
	})
	u := startUIWith(t, Config{Client: fake.NewSimpleClientset(app), Kube: kube})
	next := u.stream(t, u.login(t), "/events?view=tree&namespace=shop&name=web")
	until(t, next, "the tree with the refusal", `"id":"tree-live"`, "not permitted to list pods in shop")
	if podWatches.Load() != 0 {
		t.Errorf("the stream watches Pods the person may not list")
	}
}

// TestEventsPageStreamsANewEvent: an Event about the Application written after the page opened
// is sent as a new table, newest first; an Event about another object is not shown.
func TestEventsPageStreamsANewEvent(t *testing.T) {
	event := func(name, reason, kind string, at time.Time) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name)},
			InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: "shop", Name: "web"}, Reason: reason, Type: "Normal",
			LastTimestamp: metav1.NewTime(at), Source: corev1.EventSource{Component: "ferry"}}
	}
	kube := kubefake.NewClientset(event("e1", "Synced", "Application", time.Now().Add(-time.Minute)))
	events := watch.NewFake()
	kube.PrependWatchReactor("events", func(k8stesting.Action) (bool, watch.Interface, error) { return true, events, nil })
	u := startUIWith(t, Config{Client: fake.NewSimpleClientset(testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)), Kube: kube})
	cookie := u.login(t)
	if _, page := u.do(t, "GET", "/applications/shop/web/events", withCookie(cookie)); !strings.Contains(page, `view=appevents`) {
		t.Fatalf("the Events page does not open its live stream:\n%s", page)
	}
	next := u.stream(t, cookie, "/events?view=appevents&namespace=shop&name=web")
	until(t, next, "the Events as listed", `"id":"events-live"`, "Synced")
	go func() {
		events.Add(event("e2", "ImpostorEvent", "Deployment", time.Now()))
		events.Add(event("e3", "SyncFailed", "Application", time.Now()))
	}()
	ev := until(t, next, "the new Event", "SyncFailed")
	if strings.Index(ev, "SyncFailed") > strings.Index(ev, "Synced") || strings.Contains(ev, "ImpostorEvent") {
		t.Errorf("the Events sent: %s; want SyncFailed before Synced and no Event of another object", ev)
	}
}
