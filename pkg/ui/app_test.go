package ui

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakediscovery "k8s.io/client-go/discovery/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

// postSync posts body to the Application's sync as app.js does and returns the answer.
func postSync(t *testing.T, u *uiServer, body string) (int, syncResult) {
	t.Helper()
	cookie := u.login(t)
	resp, answer := u.do(t, http.MethodPost, "/applications/shop/web/sync", func(r *http.Request) {
		r.AddCookie(cookie)
		r.Header.Set(CSRFHeader, "1")
		r.Header.Set("Content-Type", "application/json")
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
	})
	var got syncResult
	if err := json.Unmarshal([]byte(answer), &got); err != nil {
		t.Fatalf("the answer to POST /sync is not JSON: %v\n%s", err, answer)
	}
	return resp.StatusCode, got
}

// syncRequests are the ApplicationSync bodies that reached the API.
func syncRequests(t *testing.T, u *uiServer) []*gitopsv1alpha1.ApplicationSync {
	var out []*gitopsv1alpha1.ApplicationSync
	for _, a := range u.client.Actions() {
		if a.GetVerb() == "create" && a.GetSubresource() == "sync" {
			out = append(out, a.(k8stesting.CreateAction).GetObject().(*gitopsv1alpha1.ApplicationSync))
		}
	}
	return out
}

func answerSyncs(u *uiServer) {
	u.client.PrependReactor("create", "applications", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "sync" {
			return false, nil, nil
		}
		return true, &gitopsv1alpha1.ApplicationSync{Status: gitopsv1alpha1.ApplicationSyncStatus{OperationID: "op-2", Phase: gitopsv1alpha1.OperationPending}}, nil
	})
}

// TestSyncFormChoicesReachTheAPI: the revision, prune, dry run and the ticked objects of the sync
// form become the ApplicationSync the API receives, and the answer says what was asked.
func TestSyncFormChoicesReachTheAPI(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	answerSyncs(u)
	sha := strings.Repeat("9f", 20)
	code, got := postSync(t, u, `{"revision":" `+sha+` ","prune":true,"dryRun":true,"resources":[{"group":"apps","kind":"Deployment","namespace":"shop","name":"web"}]}`)
	if code != http.StatusCreated {
		t.Fatalf("POST /sync with the form: %d %q, want 201", code, got.Message)
	}
	if want := "Dry run to 9f9f9f9f9f9f of 1 selected object requested: operation op-2"; !strings.HasPrefix(got.Message, want) {
		t.Errorf("the answer says %q, want it to start with %q", got.Message, want)
	}
	reqs := syncRequests(t, u)
	if len(reqs) != 1 {
		t.Fatalf("%d sync requests reached the API, want 1", len(reqs))
	}
	spec := reqs[0].Spec
	if spec.Revision != sha || !spec.Prune || !spec.DryRun || len(spec.Resources) != 1 ||
		spec.Resources[0] != (gitopsv1alpha1.SyncResource{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}) {
		t.Errorf("the API received %+v, want revision %s, prune, dry run and Deployment shop/web", spec, sha)
	}

	// The empty form (the Sync button with nothing chosen) syncs as the Application says.
	if code, got := postSync(t, u, `{"revision":"","prune":false,"dryRun":false,"resources":[]}`); code != http.StatusCreated || !strings.HasPrefix(got.Message, "Sync requested") {
		t.Errorf("POST /sync with an empty form: %d %q, want 201 and \"Sync requested…\"", code, got.Message)
	}
	if reqs := syncRequests(t, u); len(reqs) != 2 || reqs[1].Spec.Revision != "" || reqs[1].Spec.Prune || len(reqs[1].Spec.Resources) != 0 {
		t.Errorf("the empty form reached the API as %+v, want an empty spec", reqs[len(reqs)-1].Spec)
	}
}

// TestSyncFormThatCannotBeReadChangesNothing: a body that is not the form is refused with a
// message saying what to do, and no sync reaches the API.
func TestSyncFormThatCannotBeReadChangesNothing(t *testing.T) {
	u := startUI(t, testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync))
	answerSyncs(u)
	for _, body := range []string{`{"revision":`, `{"revison":"main"}`, `[1,2]`} {
		code, got := postSync(t, u, body)
		if code != http.StatusBadRequest || !strings.Contains(got.Message, "reload the page") {
			t.Errorf("POST /sync %s: %d %q, want 400 saying to reload", body, code, got.Message)
		}
	}
	if reqs := syncRequests(t, u); len(reqs) != 0 {
		t.Fatalf("%d sync requests reached the API from bodies that are not the form", len(reqs))
	}
}

// TestApplicationPageShowsTheOperationsWavesAndHooks: a running operation is shown with each wave
// and hook, its phase and what it waits for.
func TestApplicationPageShowsTheOperationsWavesAndHooks(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusOutOfSync)
	started := metav1.NewTime(time.Now().Add(-30 * time.Second))
	app.Status.Operation = &gitopsv1alpha1.Operation{ID: "op-9", Phase: gitopsv1alpha1.OperationRunning, Revision: "v2", Prune: true,
		RequestedBy: gitopsv1alpha1.RequestedBy{Username: "alice"}, RequestedAt: started, StartedAt: &started,
		Steps: []gitopsv1alpha1.OperationStep{
			{Type: gitopsv1alpha1.OperationStepHook, Hook: "PreSync", Kind: "Job", Name: "migrate-db", Wave: -1, Phase: gitopsv1alpha1.OperationSucceeded},
			{Type: gitopsv1alpha1.OperationStepWave, Wave: 0, Objects: 3, Phase: gitopsv1alpha1.OperationSucceeded},
			{Type: gitopsv1alpha1.OperationStepWave, Wave: 1, Objects: 2, Phase: gitopsv1alpha1.OperationRunning, Message: "waiting for Deployment shop/web to become healthy"},
		}}
	u := startUI(t, app)
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the Application's page: %s", resp.Status)
	}
	for _, want := range []string{
		`<span class="badge phase-Running">Running</span>`, "to <code>v2</code> requested by alice, started 30s ago; prunes",
		"PreSync hook Job <code>migrate-db</code> (wave -1)", "<th scope=\"row\">Wave 1</th>\n<td>2</td>",
		"waiting for Deployment shop/web to become healthy",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the Application's page lacks %q:\n%s", want, body)
		}
	}
}

// TestHistoryOffersSyncToARevisionOnlyWhereOneWasApplied: "Sync to this revision" carries the
// full revision a successful sync applied, and is not offered for a failure or a dry run.
func TestHistoryOffersSyncToARevisionOnlyWhereOneWasApplied(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)
	good, failed, dry := strings.Repeat("a1", 20), strings.Repeat("b2", 20), strings.Repeat("c3", 20)
	app.Status.History = []gitopsv1alpha1.OperationRecord{
		{ID: "op-1", Phase: gitopsv1alpha1.OperationSucceeded, SyncedRevision: good},
		{ID: "op-2", Phase: gitopsv1alpha1.OperationFailed, Revision: failed},
		{ID: "op-3", Phase: gitopsv1alpha1.OperationSucceeded, SyncedRevision: dry, DryRun: true},
	}
	u := startUI(t, app)
	_, body := u.do(t, http.MethodGet, "/applications/shop/web", withCookie(u.login(t)))
	if !strings.Contains(body, `class="sync-to" data-revision="`+good+`"`) {
		t.Errorf("no \"Sync to this revision\" for the successful sync of %s:\n%s", good, body)
	}
	for _, rev := range []string{failed, dry} {
		if strings.Contains(body, `data-revision="`+rev+`"`) {
			t.Errorf("\"Sync to this revision\" offered for %s, which was not applied", rev)
		}
	}
}

// TestSharedResourceNamesTheApplicationThatManagesIt: an object another Application manages is
// shown with that Application, read from the object's tracking annotation as the person.
func TestSharedResourceNamesTheApplicationThatManagesIt(t *testing.T) {
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)
	app.Status.Resources = []gitopsv1alpha1.ResourceStatus{
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "shared-settings", Status: gitopsv1alpha1.SyncStatusSharedResource},
		{Version: "v1", Kind: "Secret", Namespace: "shop", Name: "hidden", Status: gitopsv1alpha1.SyncStatusSharedResource},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web", Status: gitopsv1alpha1.SyncStatusSynced},
	}
	kube := kubefake.NewClientset()
	kube.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
		{Name: "configmaps", Kind: "ConfigMap", Namespaced: true}, {Name: "secrets", Kind: "Secret", Namespaced: true}, {Name: "pods/log", Kind: "Pod", Namespaced: true},
	}}}
	scheme := runtime.NewScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	shared := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "shared-settings", Annotations: map[string]string{gitopsv1alpha1.TrackingAnnotation: "platform/base:/ConfigMap:shop/shared-settings"}},
	}
	meta := metadatafake.NewSimpleMetadataClient(scheme, shared)
	meta.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden("secrets", `User "viewer" cannot get resource "secrets"`)
	})
	u := startUIWith(t, Config{Client: fake.NewSimpleClientset(app), Kube: kube, Metadata: meta})
	_, body := u.do(t, http.MethodGet, "/applications/shop/web", withCookie(u.login(t)))
	if want := `managed by <a href="/applications/platform/base">platform/base</a>`; !strings.Contains(body, want) {
		t.Errorf("the shared ConfigMap does not name its Application; want %q in:\n%s", want, body)
	}
	if want := "managed by another Application"; strings.Count(body, want) != 1 {
		t.Errorf("the Secret the person may not read should say %q (once):\n%s", want, body)
	}
}
