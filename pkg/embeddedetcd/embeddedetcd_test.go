package embeddedetcd

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestOnlyFerryCanTalkToTheEmbeddedEtcd: the embedded etcd's port on 127.0.0.1 is open to every
// local user, so it must answer no one but Ferry: plain HTTP and TLS without Ferry's client
// certificate are refused; Ferry's certificate reads and writes.
func TestOnlyFerryCanTalkToTheEmbeddedEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if !strings.HasPrefix(s.ClientURL, "https://127.0.0.1:") {
		t.Fatalf("client URL %s, want https on 127.0.0.1", s.ClientURL)
	}

	// Another local process: plain HTTP, then TLS with no client certificate.
	plain := strings.Replace(s.ClientURL, "https://", "http://", 1) + "/v3/kv/range"
	if resp, err := http.Post(plain, "application/json", strings.NewReader(`{"key":"Lw=="}`)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP read the embedded etcd")
		}
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the attacker's view
	if resp, err := noCert.Post(s.ClientURL+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"Lw=="}`)); err == nil {
		resp.Body.Close()
		t.Errorf("TLS without Ferry's client certificate got an answer: %s", resp.Status)
	}

	// Ferry itself.
	client := ferryClient(t, s)
	if _, err := client.Put(ctx, "/registry/probe", "ok"); err != nil {
		t.Fatalf("Ferry's certificate: %v", err)
	}
	if got, err := client.Get(ctx, "/registry/probe"); err != nil || len(got.Kvs) != 1 {
		t.Fatalf("Ferry's certificate: %v %v", got, err)
	}
}

// TestWrittenObjectsDoNotStayInMemory: every write passes through etcd's raft log, which etcd
// keeps in memory for followers to catch up from. A single member has none, so what has been
// written must not stay on ferry-apiserver's heap: writing 100 MB of objects leaves the heap
// well under that once collected (etcd's default kept the last 5,000 entries: all of them).
func TestWrittenObjectsDoNotStayInMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{DataDir: t.TempDir(), UnsafeNoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	client := ferryClient(t, s)

	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	const writes, size = 2000, 50 << 10
	// Status writes of the same objects, over and over, as a controller makes them.
	value := strings.Repeat("x", size)
	for i := range writes {
		if _, err := client.Put(ctx, fmt.Sprintf("/registry/gitops.ferry.dev/applications/demo/app-%03d", i%100), value); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heap()) - int64(before)
	if grown > 40<<20 {
		t.Errorf("after writing %d MB, the heap holds %d MB more than before: the written entries stay in memory", writes*size>>20, grown>>20)
	}
}

// ferryClient is an etcd client with Ferry's certificate, closed at the end of the test.
func ferryClient(t *testing.T, s *Server) *clientv3.Client {
	t.Helper()
	tlsConfig, err := (transport.TLSInfo{CertFile: s.CertFile, KeyFile: s.KeyFile, TrustedCAFile: s.CAFile}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{s.ClientURL}, TLS: tlsConfig, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}
