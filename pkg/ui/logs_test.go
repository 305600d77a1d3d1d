package ui

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kubefake "k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/fake"
)

func logsFixture(t *testing.T) (*uiServer, *kubefake.Clientset) {
	t.Helper()
	app := testApp("shop", "web", gitopsv1alpha1.SyncStatusSynced)
	app.Status.Resources = []gitopsv1alpha1.ResourceStatus{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-5d8f", Namespace: "shop", UID: "rs-1", OwnerReferences: owner("Deployment", "web", "dep-1")}}
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", OwnerReferences: owner("ReplicaSet", "web-5d8f", "rs-1")},
			Spec:   corev1.PodSpec{InitContainers: []corev1.Container{{Name: "migrate"}}, Containers: []corev1.Container{{Name: "web"}, {Name: "proxy"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	kube := kubefake.NewClientset(rs, pod("web-5d8f-a"), pod("web-5d8f-b"))
	return startUIWith(t, Config{Client: fake.NewSimpleClientset(app), Kube: kube}), kube
}

// TestLogsPageOffersTheTreesPodsAndTheirContainers: the Logs tab lists the Pods found under the
// Application's objects, opens the first, and offers its containers, init containers included.
func TestLogsPageOffersTheTreesPodsAndTheirContainers(t *testing.T) {
	u, _ := logsFixture(t)
	cookie := u.login(t)
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web/logs", withCookie(cookie))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the Logs page: %s\n%s", resp.Status, body)
	}
	for _, want := range []string{
		`href="/applications/shop/web/logs?namespace=shop&amp;pod=web-5d8f-a" aria-current="page">web-5d8f-a</a>`,
		`href="/applications/shop/web/logs?namespace=shop&amp;pod=web-5d8f-b">web-5d8f-b</a>`,
		`href="/applications/shop/web/logs" aria-current="page">Logs</a>`, `Log of Pod <code>shop/web-5d8f-a</code>`, `>migrate</a>`, `>proxy</a>`, `Following container <code>web</code>`,
		`data-log-stream="/applications/shop/web/logs/stream?container=web&amp;namespace=shop&amp;pod=web-5d8f-a"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the Logs page lacks %q:\n%s", want, body)
		}
	}
	_, body = u.do(t, http.MethodGet, "/applications/shop/web/logs?namespace=shop&pod=web-5d8f-b&container=proxy", withCookie(cookie))
	if want := `data-log-stream="/applications/shop/web/logs/stream?container=proxy&amp;namespace=shop&amp;pod=web-5d8f-b"`; !strings.Contains(body, want) {
		t.Errorf("choosing Pod b's proxy container does not stream it; want %q in:\n%s", want, body)
	}
}

// TestLogsRefusedByTheAPIShowItsMessage: a person who may not read the Pod sees the API's 403.
func TestLogsRefusedByTheAPIShowItsMessage(t *testing.T) {
	u, kube := logsFixture(t)
	kube.PrependReactor("get", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden("pods", `User "viewer" cannot get resource "pods" in the namespace "shop"`)
	})
	resp, body := u.do(t, http.MethodGet, "/applications/shop/web/logs?namespace=shop&pod=web-5d8f-a", withCookie(u.login(t)))
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `User &#34;viewer&#34; cannot get resource &#34;pods&#34;`) || strings.Contains(body, "data-log-stream") {
		t.Errorf("GET the Logs page of a Pod the person may not read: %s; want 403 with the API's message and no stream:\n%s", resp.Status, body)
	}
}

// TestLogStreamSendsTheLinesThenSaysTheLogEnded: the stream follows the container's log through
// pods/log and sends its lines as text, then "end" when the log ends.
func TestLogStreamSendsTheLinesThenSaysTheLogEnded(t *testing.T) {
	u, kube := logsFixture(t)
	cookie := u.login(t)
	req, _ := http.NewRequest(http.MethodGet, u.base+"/applications/shop/web/logs/stream?namespace=shop&pod=web-5d8f-a&container=proxy", nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := readEvents(t, resp.Body, 2)
	if events[0].name != "lines" || events[1].name != "end" {
		t.Fatalf("the stream sent %v, want lines then end", events)
	}
	var got logLines
	if err := json.Unmarshal([]byte(events[0].data), &got); err != nil || strings.Join(got.Lines, "\n") != "fake logs" {
		t.Errorf("the lines sent: %s (%v), want the Pod's log (the fake API answers \"fake logs\")", events[0].data, err)
	}
	var asked *corev1.PodLogOptions
	for _, a := range kube.Actions() {
		if a.GetSubresource() == "log" {
			asked = a.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
		}
	}
	if asked == nil || asked.Container != "proxy" || !asked.Follow || asked.TailLines == nil || *asked.TailLines != logTail {
		t.Errorf("pods/log was asked with %+v, want container proxy, follow, the last %d lines", asked, logTail)
	}
}

type sseEvent struct{ name, data string }

// readEvents reads n Server-Sent Events (comments skipped) from body.
func readEvents(t *testing.T, body io.Reader, n int) []sseEvent {
	t.Helper()
	sc := bufio.NewScanner(body)
	var out []sseEvent
	var ev sseEvent
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		case line == "" && ev.name != "":
			out = append(out, ev)
			ev = sseEvent{}
		}
	}
	if len(out) < n {
		t.Fatalf("the stream ended after %d events, want %d: %v", len(out), n, sc.Err())
	}
	return out
}

// TestBusyLogsArriveInBatchesAndLongLinesAreCut: thousands of lines are sent in a few events of
// at most logBatch lines each, in order, and a huge line is cut with a mark.
func TestBusyLogsArriveInBatchesAndLongLinesAreCut(t *testing.T) {
	var in strings.Builder
	const n = 1000
	for i := range n {
		in.WriteString("line " + strings.Repeat("x", i%7) + "\n")
	}
	in.WriteString(strings.Repeat("y", 3*maxLogLine) + "\n")
	rec := httptest.NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sendLines(ctx, &stream{w: rec, f: rec}, strings.NewReader(in.String())); err != nil {
		t.Fatal(err)
	}
	out := rec.Body.String()
	events := readEvents(t, strings.NewReader(out), 1)
	total, sent := 0, 0
	for _, chunk := range strings.Split(out, "\n\n") {
		data, ok := strings.CutPrefix(chunk, "event: lines\ndata: ")
		if !ok {
			continue
		}
		var got logLines
		if err := json.Unmarshal([]byte(data), &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Lines) > logBatch {
			t.Errorf("one event carries %d lines, want at most %d", len(got.Lines), logBatch)
		}
		for _, l := range got.Lines {
			if total < n && l != "line "+strings.Repeat("x", total%7) {
				t.Fatalf("line %d is %q: lines out of order or changed", total, l)
			}
			total++
		}
		sent++
		if total == n+1 {
			if last := got.Lines[len(got.Lines)-1]; len(last) > maxLogLine+32 || !strings.HasSuffix(last, "(line cut)") {
				t.Errorf("the huge line arrived %d bytes long, want it cut at %d with a mark", len(last), maxLogLine)
			}
		}
	}
	if total != n+1 || sent < (n+1)/logBatch || events[0].name != "lines" {
		t.Errorf("%d lines in %d events, want %d lines in about %d", total, sent, n+1, (n+1)/logBatch+1)
	}
}
