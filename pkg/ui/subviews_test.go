package ui

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

func forbidden(resource, msg string) error {
	return apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: resource}, "web", errors.New(msg))
}

// TestDiffPageShowsEachObjectsActionAndColouredLines: the diff a sync would apply, per object,
// with removed and added lines classed for colour and a Secret's value as masked by the API.
func TestDiffPageShowsEachObjectsActionAndColouredLines(t *testing.T) {
	client := fake.NewSimpleClientset(testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	client.PrependReactor("get", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "diff" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationDiff{Revision: strings.Repeat("ab", 20), Summary: gitopsv1alpha1.DiffSummary{Update: 2, None: 1},
			Items: []gitopsv1alpha1.ResourceDiff{
				{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings", Action: gitopsv1alpha1.DiffUpdate,
					Diff: "--- live\n+++ desired\n@@ -1,2 +1,2 @@\n data:\n-  value: by hand\n+  value: v1\n"},
				{Version: "v1", Kind: "Secret", Namespace: "shop", Name: "creds", Action: gitopsv1alpha1.DiffUpdate,
					Diff: "@@ -1 +1 @@\n-  password: '++++++++ (sha256 1a2b)'\n+  password: '++++++++ (sha256 3c4d)'\n"},
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web", Action: gitopsv1alpha1.DiffNone},
			}}, nil
	})
	u := startUIWith(t, Config{Client: client})
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web/diff", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the diff: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		"would create 0, update 2 and delete 0 objects; 1 are unchanged", "<code>abababababab</code>",
		`<span class="badge action-Update">Update</span> ConfigMap shop/settings`,
		`<span class="del">-  value: by hand</span>`, `<span class="add">&#43;  value: v1</span>`, `<span class="hunk">@@ -1,2 &#43;1,2 @@</span>`,
		`<span class="del">-  password: &#39;&#43;&#43;&#43;&#43;&#43;&#43;&#43;&#43; (sha256 1a2b)&#39;</span>`,
		`<span class="badge action-None">None</span> Deployment.apps shop/web`, `aria-current="page">Diff</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the diff page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "style=") {
		t.Errorf("the diff page uses inline styles, which the CSP refuses:\n%s", body)
	}
}

// TestSubPagesShowTheAPIsRefusal: a 403, 429 or 504 of the diff and manifests subresources is
// shown with the API's code and message.
func TestSubPagesShowTheAPIsRefusal(t *testing.T) {
	for _, c := range []struct {
		sub string
		err error
	}{
		{"diff", forbidden("applications/diff", `User "viewer" cannot get resource "applications/diff"`)},
		{"diff", apierrors.NewTooManyRequests("too many diffs at once, retry", 5)},
		{"manifests", apierrors.NewTimeoutError("rendering took longer than 30s", 0)},
		{"manifests", forbidden("applications/manifests", `User "viewer" cannot get resource "applications/manifests"`)},
	} {
		client := fake.NewSimpleClientset()
		client.PrependReactor("get", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
			return a.GetSubresource() == c.sub, nil, c.err
		})
		u := startUIWith(t, Config{Client: client})
		resp, body := u.do(t, http.MethodGet, "/applications/shop/web/"+c.sub, withCookie(u.login(t)))
		want := apiCode(c.err)
		if resp.StatusCode != want || !strings.Contains(body, `role="alert" data-status="`+resp.Status[:3]+`"`) ||
			!strings.Contains(body, strings.ReplaceAll(apiMessage(c.err), `"`, "&#34;")) {
			t.Errorf("GET %s answered %v: %s; want %d with the API's message %q:\n%s", c.sub, c.err, resp.Status, want, apiMessage(c.err), body)
		}
	}
}

func TestManifestsPageShowsTheRenderedObjectsAsYAML(t *testing.T) {
	client := fake.NewSimpleClientset()
	client.PrependReactor("get", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "manifests" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationManifests{Revision: strings.Repeat("cd", 20), Objects: []runtime.RawExtension{
			{Raw: []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds","namespace":"shop"},"data":{"password":"++++++++"}}`)},
		}}, nil
	})
	u := startUIWith(t, Config{Client: client})
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web/manifests", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the manifests: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{"1 objects rendered at <code>cdcdcdcdcdcd</code>", "<h2>Secret shop/creds</h2>", "kind: Secret", "password: &#43;&#43;&#43;&#43;&#43;&#43;&#43;&#43;"} {
		if !strings.Contains(body, want) {
			t.Errorf("the manifests page lacks %q:\n%s", want, body)
		}
	}
}

func TestEventsPageShowsTheApplicationsEventsNewestFirst(t *testing.T) {
	now := time.Now()
	ev := func(name, kind, obj, reason string, ago time.Duration) *corev1.Event {
		return &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}, Type: corev1.EventTypeNormal, Reason: reason,
			Message: reason + " message", InvolvedObject: corev1.ObjectReference{Kind: kind, Namespace: "shop", Name: obj},
			Source: corev1.EventSource{Component: "ferry"}, Count: 1, LastTimestamp: metav1.NewTime(now.Add(-ago))}
	}
	kube := kubefake.NewSimpleClientset(ev("a", "Application", "web", "Synced", 5*time.Minute), ev("b", "Application", "web", "OutOfSync", time.Minute),
		ev("c", "Application", "db", "OtherApp", time.Minute), ev("d", "Deployment", "web", "ScalingReplicaSet", time.Minute))
	u := startUIWith(t, Config{Client: fake.NewSimpleClientset(), Kube: kube})
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web/events", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the events: %s\n%s", resp.Status, body)
	}
	first, second := strings.Index(body, "OutOfSync message"), strings.Index(body, "Synced message")
	if first < 0 || second < 0 || first > second {
		t.Errorf("the events page does not show OutOfSync then Synced:\n%s", body)
	}
	if strings.Contains(body, "OtherApp") || strings.Contains(body, "ScalingReplicaSet") {
		t.Errorf("the events page shows another object's Events:\n%s", body)
	}

	kube.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "events"}, "", errors.New(`User "viewer" cannot list resource "events"`))
	})
	resp, body = u.do(t, http.MethodGet, "/applications/shop/web/events", withCookie(cookie))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "cannot list resource &#34;events&#34;") {
		t.Errorf("GET the events when refused: %s; want 403 with the API's message:\n%s", resp.Status, body)
	}
}

func owner(kind, name string, uid types.UID) []metav1.OwnerReference {
	return []metav1.OwnerReference{{Kind: kind, Name: name, UID: uid}}
}

// TestTreeShowsWhatTheObjectsOwn: Deployment → ReplicaSet → Pods and CronJob → Job → Pod found
// by ownerReferences (below the top by uid, so a Pod of an earlier ReplicaSet of the same name is
// not shown), and a 403 on listing Pods shown in the tree, not as an error page.
func TestTreeShowsWhatTheObjectsOwn(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)
	app.Status.Resources = []gitopsv1alpha1.ResourceStatus{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web", Status: gitopsv1alpha1.SyncStatusSynced, Health: gitopsv1alpha1.HealthHealthy},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings", Status: gitopsv1alpha1.SyncStatusSynced},
		{Group: "batch", Version: "v1", Kind: "CronJob", Namespace: "shop", Name: "report", Status: gitopsv1alpha1.SyncStatusSynced},
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "shop", UID: "rs-1", OwnerReferences: owner("Deployment", "web", "dep-1")},
		Status: appsv1.ReplicaSetStatus{Replicas: 2, ReadyReplicas: 1}}
	other := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "api-77aa", Namespace: "shop", UID: "rs-2", OwnerReferences: owner("Deployment", "api", "dep-2")}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "report-2901", Namespace: "shop", UID: "job-1", OwnerReferences: owner("CronJob", "report", "cj-1")},
		Status: batchv1.JobStatus{Succeeded: 1}}
	pod := func(name, rs string, uid types.UID, ready bool) *corev1.Pod {
		kind := "ReplicaSet"
		if uid == "job-1" {
			kind = "Job"
		}
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", OwnerReferences: owner(kind, rs, uid)},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "web"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Ready: ready}}}}
	}
	kube := kubefake.NewSimpleClientset(rs, other, job, pod("web-5d8f-a", "web-5d8f", "rs-1", true), pod("web-5d8f-b", "web-5d8f", "rs-1", false),
		pod("web-5d8f-old", "web-5d8f", "rs-0", true), pod("api-77aa-a", "api-77aa", "rs-2", true), pod("report-2901-x", "report-2901", "job-1", false))
	u := startUIWith(t, Config{Client: fake.NewSimpleClientset(app), Kube: kube})
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web/tree", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the tree: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		`<li class="node" role="treeitem" tabindex="-1" data-kind="Deployment" data-name="web" data-key="Deployment/shop/web" aria-expanded="true">
<span class="label"><span class="twisty" aria-hidden="true"></span><span class="kind">Deployment</span> <strong>web</strong> <span class="badge sync-Synced">Synced</span> <span class="badge health-Healthy">Healthy</span></span>`,
		`<li class="node" role="treeitem" tabindex="-1" data-kind="ReplicaSet" data-name="web-5d8f" data-key="ReplicaSet/shop/web-5d8f" aria-expanded="true">
<span class="label"><span class="twisty" aria-hidden="true"></span><span class="kind">ReplicaSet</span> <strong>web-5d8f</strong> <span class="state">1/2 ready</span></span>`,
		`<strong>web-5d8f-a</strong> <span class="state">Running, 1/1 ready</span> <a class="logs" tabindex="-1" href="/applications/shop/web/logs?namespace=shop&amp;pod=web-5d8f-a">logs</a>`,
		`<strong>web-5d8f-b</strong> <span class="state">Running, 0/1 ready</span>`,
		`<li class="node" role="treeitem" tabindex="-1" data-kind="ConfigMap" data-name="settings" data-key="ConfigMap/shop/settings">
<span class="label"><span class="kind">ConfigMap</span>`,
		`<strong>report-2901</strong> <span class="state">1 succeeded, 0 failed, 0 active</span></span>`,
		`<strong>report-2901-x</strong> <span class="state">Running, 0/1 ready</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the tree lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "api-77aa") || strings.Contains(body, "web-5d8f-old") {
		t.Errorf("the tree shows objects the Application's do not own:\n%s", body)
	}

	kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, "", errors.New(`User "viewer" cannot list resource "pods"`))
	})
	resp, body = u.do(t, http.MethodGet, "/applications/shop/web/tree", withCookie(cookie))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `<li class="note" role="treeitem" tabindex="-1" data-note="not permitted to list pods in shop">not permitted to list pods in shop</li>`) ||
		!strings.Contains(body, "web-5d8f") {
		t.Errorf("GET the tree when pods may not be listed: %s; want the tree with the refusal under the ReplicaSet:\n%s", resp.Status, body)
	}
}
