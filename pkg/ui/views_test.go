package ui

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

func TestApplicationPageShowsSourcePolicyConditionsResourcesAndHistory(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync)
	finished := metav1.NewTime(time.Now().Add(-2 * time.Minute))
	app.Spec.SyncPolicy.Automated = &gitopsv1alpha1.AutomatedSyncPolicy{Prune: true}
	app.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, Reason: "OutOfSync", Message: "configmap shop/settings differs from Git"}}
	app.Status.Resources = []gitopsv1alpha1.ResourceStatus{{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings", Status: gitopsv1alpha1.SyncStatusOutOfSync, Health: gitopsv1alpha1.HealthHealthy}}
	app.Status.History = []gitopsv1alpha1.OperationRecord{{ID: "op-1", Phase: gitopsv1alpha1.OperationSucceeded, SyncedRevision: strings.Repeat("cd", 20), RequestedBy: "alice", FinishedAt: &finished}}
	u := startUI(t, app)
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the Application's page: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		"https://git.example/shop.git", "path <code>app</code>", "automated (prune)",
		"configmap shop/settings differs from Git", `<th scope="row">settings</th>`,
		"<code>cdcdcdcdcdcd</code>", "alice", "2m ago",
		`data-sync-url="/applications/shop/web/sync"`, `aria-live="polite"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the Application's page lacks %q:\n%s", want, body)
		}
	}
	resp, body = u.do(t, http.MethodGet, "/applications/shop/nope", withCookie(cookie))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, `applications.gitops.ferry.dev &#34;nope&#34; not found`) {
		t.Errorf("GET a missing Application: %s; want 404 with the API's message:\n%s", resp.Status, body)
	}
}

func TestListFiltersOnTheServer(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync), testApp("shop", "db", gitopsv1alpha1.SyncStatusSynced),
		testApp("blog", "web", gitopsv1alpha1.SyncStatusSynced))
	cookie := u.login(t)
	for query, want := range map[string][]string{
		"/":                   {"app/shop/web", "app/shop/db", "app/blog/web"},
		"/?sync=OutOfSync":    {"app/shop/web"},
		"/?q=blog":            {"app/blog/web"},
		"/?q=WEB&sync=Synced": {"app/blog/web"},
		"/?health=Degraded":   {},
	} {
		_, body := u.do(t, http.MethodGet, query, withCookie(cookie))
		got := strings.Count(body, `<tr id="app/`)
		if got != len(want) {
			t.Errorf("GET %s: %d rows, want %v", query, got, want)
		}
		for _, id := range want {
			if !strings.Contains(body, `<tr id="`+id+`"`) {
				t.Errorf("GET %s lacks row %s", query, id)
			}
		}
	}
}

// TestListFallsBackToTheContextNamespace: a person who may not list Applications in every
// namespace sees those of their kubeconfig context's namespace, told why, instead of an error.
func TestListFallsBackToTheContextNamespace(t *testing.T) {
	client := fake.NewSimpleClientset(testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced), testApp("blog", "web", gitopsv1alpha1.SyncStatusSynced))
	client.PrependReactor("list", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "" {
			return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "gitops.ferry.dev", Resource: "applications"}, "",
				errors.New(`User "alice" cannot list resource "applications" in API group "gitops.ferry.dev" at the cluster scope`))
		}
		return false, nil, nil
	})
	u := startUIWith(t, Config{Client: client, FallbackNamespace: "shop"})
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodGet, "/", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s\n%s", resp.Status, body)
	}
	if !strings.Contains(body, `id="app/shop/web"`) || strings.Contains(body, `id="app/blog/web"`) {
		t.Errorf("the list shows other rows than shop's:\n%s", body)
	}
	if !strings.Contains(body, "cannot list resource") || !strings.Contains(body, "showing namespace shop") {
		t.Errorf("the list does not say why it shows only namespace shop:\n%s", body)
	}
	if !strings.Contains(body, `namespace=shop`) {
		t.Errorf("the live stream does not follow namespace shop:\n%s", body)
	}
}
