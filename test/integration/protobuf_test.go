package integration

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/scheme"
)

// protobufMagic starts every Kubernetes protobuf body: the runtime.Unknown envelope's prefix.
var protobufMagic = []byte("k8s\x00")

// exchange is one HTTP request and response, as the recording transport saw them.
type exchange struct {
	method, path, requestType, responseType string
}

// recorder notes the content types of every exchange made through the transports it wraps.
type recorder struct {
	mu   sync.Mutex
	seen []exchange
}

// wrap is a rest.Config WrapTransport that records through r.
func (r *recorder) wrap(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		resp, err := next.RoundTrip(req)
		if err == nil {
			r.mu.Lock()
			r.seen = append(r.seen, exchange{req.Method, req.URL.Path, req.Header.Get("Content-Type"), resp.Header.Get("Content-Type")})
			r.mu.Unlock()
		}
		return resp, err
	})
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.seen...)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestProtobufIsServed checks that Ferry speaks application/vnd.kubernetes.protobuf, as the
// typed clients (generated with --prefers-protobuf) and kube-controller-manager ask it to:
// create, get, list, watch and applications/sync, request bodies and responses alike.
func TestProtobufIsServed(t *testing.T) {
	ts := startServer(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	config := rest.CopyConfig(ts.config)
	config.ContentType = runtime.ContentTypeProtobuf
	config.AcceptContentTypes = runtime.ContentTypeProtobuf
	rec := &recorder{}
	config.Wrap(rec.wrap)
	client, err := versioned.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	apps := client.GitopsV1alpha1().Applications("default")

	w, err := apps.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()
	created, err := apps.Create(ctx, newApp("proto"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.Spec.Source.Path != "apps/proto" || created.UID == "" {
		t.Errorf("created app: path %q uid %q", created.Spec.Source.Path, created.UID)
	}
	got, err := apps.Get(ctx, "proto", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Spec.Source.RepoURL != "https://git.example.com/org/repo.git" || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("got app: repoURL %q resourceVersion %q, want %q", got.Spec.Source.RepoURL, got.ResourceVersion, created.ResourceVersion)
	}
	list, err := apps.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "proto" || list.ResourceVersion == "" {
		t.Errorf("list: %d items, resourceVersion %q", len(list.Items), list.ResourceVersion)
	}
	select {
	case ev := <-w.ResultChan():
		app, ok := ev.Object.(*gitopsv1alpha1.Application)
		if ev.Type != watch.Added || !ok || app.Name != "proto" || app.Spec.Source.Path != "apps/proto" {
			t.Errorf("watch event %s %#v, want ADDED proto", ev.Type, ev.Object)
		}
	case <-ctx.Done():
		t.Fatal("no watch event before the deadline")
	}
	synced, err := apps.Sync(ctx, "proto", &gitopsv1alpha1.ApplicationSync{Spec: gitopsv1alpha1.ApplicationSyncSpec{Revision: "main", Prune: true}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if synced.Status.OperationID == "" || synced.Status.Phase != gitopsv1alpha1.OperationPending {
		t.Errorf("sync response %+v", synced.Status)
	}
	if got, err := apps.Get(ctx, "proto", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if op := got.Status.Operation; op == nil || op.Revision != "main" || !op.Prune {
		t.Errorf("operation %+v: want revision main with prune, as sent in the protobuf body", op)
	}

	// kube-controller-manager's namespace controller lists through the metadata client, which
	// asks for PartialObjectMetadataList in protobuf.
	meta, err := metadata.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	partial, err := meta.Resource(gitopsv1alpha1.SchemeGroupVersion.WithResource("applications")).Namespace("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatalf("metadata list: %v", err)
	}
	if len(partial.Items) != 1 || partial.Items[0].Name != "proto" {
		t.Errorf("metadata list: %+v", partial.Items)
	}

	// Every exchange above was protobuf both ways. This is checked on the wire: the metadata
	// client, like the typed clients by default, accepts JSON too and would fall back to it
	// without a word.
	want := map[string]bool{
		"POST /apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications":            false,
		"GET /apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications/proto":       false,
		"GET /apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications":             false,
		"POST /apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications/proto/sync": false,
	}
	for _, ex := range rec.exchanges() {
		key := ex.method + " " + ex.path
		if _, ok := want[key]; ok {
			want[key] = true
		}
		if !strings.HasPrefix(ex.responseType, runtime.ContentTypeProtobuf) {
			t.Errorf("%s: response Content-Type %q, want protobuf", key, ex.responseType)
		}
		if ex.method == http.MethodPost && ex.requestType != runtime.ContentTypeProtobuf {
			t.Errorf("%s: request Content-Type %q, want protobuf", key, ex.requestType)
		}
	}
	for key, seen := range want {
		if !seen {
			t.Errorf("no %s was made", key)
		}
	}

	// The same by hand: the bytes on the wire are Kubernetes protobuf.
	httpClient, err := rest.HTTPClientFor(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	pb := protobuf.NewSerializer(scheme.Scheme, scheme.Scheme)
	base := ts.config.Host + "/apis/gitops.ferry.dev/v1alpha1/namespaces/default/applications/"
	body := protobufExchange(ctx, t, httpClient, http.MethodGet, base+"proto", nil, http.StatusOK)
	obj, _, err := pb.Decode(body, nil, nil)
	if err != nil {
		t.Fatalf("decoding the protobuf GET response: %v", err)
	}
	if app, ok := obj.(*gitopsv1alpha1.Application); !ok || app.Name != "proto" || app.Spec.Source.Path != "apps/proto" {
		t.Errorf("protobuf GET decoded to %#v", obj)
	}

	// applications/sync takes a protobuf body.
	if _, err := apps.Create(ctx, newApp("proto-raw"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var request bytes.Buffer
	syncReq := &gitopsv1alpha1.ApplicationSync{
		TypeMeta: metav1.TypeMeta{APIVersion: gitopsv1alpha1.SchemeGroupVersion.String(), Kind: "ApplicationSync"},
		Spec:     gitopsv1alpha1.ApplicationSyncSpec{Revision: "v2", DryRun: true},
	}
	if err := pb.Encode(syncReq, &request); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(request.Bytes(), protobufMagic) {
		t.Fatalf("encoded sync request starts with %q", request.Bytes()[:4])
	}
	body = protobufExchange(ctx, t, httpClient, http.MethodPost, base+"proto-raw/sync", request.Bytes(), http.StatusCreated)
	obj, _, err = pb.Decode(body, nil, nil)
	if err != nil {
		t.Fatalf("decoding the protobuf sync response: %v", err)
	}
	if resp, ok := obj.(*gitopsv1alpha1.ApplicationSync); !ok || resp.Status.OperationID == "" {
		t.Errorf("protobuf sync response decoded to %#v", obj)
	}
	if got, err := apps.Get(ctx, "proto-raw", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	} else if op := got.Status.Operation; op == nil || op.Revision != "v2" || !op.DryRun {
		t.Errorf("operation %+v: want revision v2 as a dry run, as sent in the protobuf body", op)
	}
}

// protobufExchange makes one request that sends and accepts only protobuf, checks the status
// code and that the response is protobuf, and returns the response body.
func protobufExchange(ctx context.Context, t *testing.T, client *http.Client, method, url string, body []byte, wantStatus int) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", runtime.ContentTypeProtobuf)
	if body != nil {
		req.Header.Set("Content-Type", runtime.ContentTypeProtobuf)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d: %q", method, url, resp.StatusCode, wantStatus, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != runtime.ContentTypeProtobuf {
		t.Errorf("%s %s: Content-Type %q, want %q", method, url, ct, runtime.ContentTypeProtobuf)
	}
	if !bytes.HasPrefix(data, protobufMagic) {
		t.Errorf("%s %s: body starts with %q, want the protobuf magic %q", method, url, data[:min(len(data), 8)], protobufMagic)
	}
	return data
}
