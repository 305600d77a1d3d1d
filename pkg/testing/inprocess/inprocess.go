// Package inprocess runs ferry-apiserver inside a test's process on a free port of 127.0.0.1,
// with an embedded etcd, and gives the test a client with the server's loopback identity. The
// server stops at the end of the test.
package inprocess

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/cmd/server"
	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	"github.com/ferry-gitops/ferry/pkg/gitops/engine"
	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
)

// Options choose what the server runs.
type Options struct {
	// DataDir holds the embedded etcd; a restarted server on the same directory finds its data.
	// Empty means a new temporary directory.
	DataDir string
	// TargetKubeconfig is the cluster the controller deploys into; empty runs no controller
	// (and there is no kube-apiserver to delegate authentication and authorisation to).
	TargetKubeconfig string
	// Render replaces the controller's renderer.
	Render engine.RenderFunc
}

// Server is a running in-process ferry-apiserver.
type Server struct {
	Config *rest.Config
	Client versioned.Interface
	// Stop stops the server and its etcd and waits for them; it runs at the end of the test too.
	Stop func()
}

// Start starts the server and waits until its /readyz answers.
func Start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	o := server.NewOptions(io.Discard, io.Discard)
	o.DataDir = opts.DataDir
	o.GitCacheDir = t.TempDir()
	o.EmbeddedEtcdUnsafeNoFsync = true
	o.EmbeddedEtcdLogLevel = "fatal"
	o.TargetKubeconfig = opts.TargetKubeconfig
	o.LeaderElection.LeaderElect = false
	ro := o.RecommendedOptions
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ro.SecureServing.Listener = listener
	ro.SecureServing.BindPort = listener.Addr().(*net.TCPAddr).Port
	ro.SecureServing.BindAddress = net.ParseIP("127.0.0.1")
	ro.SecureServing.ServerCert.CertDirectory = t.TempDir()
	ro.Authentication.RemoteKubeConfigFileOptional = true
	ro.Authorization.RemoteKubeConfigFileOptional = true
	ro.CoreAPI = nil
	ro.Admission = nil
	// Priority and fairness reads its configuration from a kube-apiserver; clients here use the
	// loopback identity, which it would exempt anyway.
	ro.Features.EnablePriorityAndFairness = false
	if err := o.ComponentGlobalsRegistry.Set(); err != nil {
		t.Fatal(err)
	}
	// Tests serve Git and charts on 127.0.0.1, which the egress policy denies by default.
	o.EgressAllowCIDRs = []string{"127.0.0.1/32"}
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	o.Render = opts.Render
	// This process is a test binary, not ferry-apiserver: it is its own render worker, which
	// its TestMain must allow by calling worker.RunIfAsked first.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o.RenderWorkerCommand = []string{self, worker.Subcommand}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := o.NewServer(ctx)
	if err != nil {
		cancel()
		t.Fatalf("configuring ferry-apiserver: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }() // Run stops the embedded etcd when it returns

	config := rest.CopyConfig(srv.GenericAPIServer.LoopbackClientConfig)
	s := &Server{Config: config, Client: versioned.NewForConfigOrDie(config)}
	var once sync.Once
	s.Stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ferry-apiserver stopped with %v", err)
				}
			case <-time.After(time.Minute):
				t.Error("ferry-apiserver did not stop within a minute")
			}
		})
	}
	t.Cleanup(s.Stop)

	// Ready means /readyz answers ok: etcd reachable and every post-start hook done.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var code int
		s.Client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).StatusCode(&code)
		return code == 200, nil
	})
	if err != nil {
		t.Fatalf("ferry-apiserver not ready: %v", err)
	}
	return s
}
