// Package embeddedetcd runs a single-member etcd inside ferry-apiserver, so that a server started
// without --etcd-servers needs no set-up at all. Production runs point at an external cluster.
package embeddedetcd

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/klog/v2"
)

// Options configure the embedded etcd.
type Options struct {
	// DataDir holds etcd's data; it is created when missing and reused across restarts.
	DataDir string
	// UnsafeNoFsync skips fsync: faster, and loses recent writes on a power cut. Tests only.
	UnsafeNoFsync bool
	// StartTimeout bounds how long to wait for etcd to become ready.
	StartTimeout time.Duration
	// LogLevel is etcd's own log level: debug, info, warn (the default), error, panic or fatal.
	LogLevel string
}

// Server is a running embedded etcd.
type Server struct {
	etcd *embed.Etcd
	// ClientURL is where the API server reaches etcd: https on 127.0.0.1 only.
	ClientURL string
	// CAFile, CertFile and KeyFile are the client side of the mutual TLS etcd requires: the CA
	// that signed etcd's certificate, and Ferry's client certificate and key.
	CAFile, CertFile, KeyFile string
}

// Start starts etcd on free ports of 127.0.0.1 and waits until it is ready.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.DataDir == "" {
		return nil, fmt.Errorf("embedded etcd needs a data directory: set --data-dir")
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating embedded etcd data directory %s: %w", opts.DataDir, err)
	}
	// etcd's data is the whole of Ferry's state, credentials references included: owner only.
	if err := os.Chmod(opts.DataDir, 0o700); err != nil {
		// Typically the root of a volume, which belongs to root and the pod's fsGroup.
		return nil, fmt.Errorf("restricting embedded etcd data directory %s to its owner: %w; point --data-dir at a directory this user creates, such as a subdirectory of the volume", opts.DataDir, err)
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "warn"
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = time.Minute
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	// A port of 127.0.0.1 is open to every local user: etcd answers only clients presenting the
	// certificate made for Ferry (client and peer port alike), so no other process can read or
	// rewrite Applications around RBAC, admission and audit.
	creds, err := newCredentials(filepath.Join(opts.DataDir, "pki"))
	if err != nil {
		return nil, fmt.Errorf("making the embedded etcd's TLS credentials: %w", err)
	}
	tls := transport.TLSInfo{
		CertFile: creds.ServerCertFile, KeyFile: creds.ServerKeyFile,
		TrustedCAFile: creds.CAFile, ClientCertAuth: true,
	}
	clientURL := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))}
	peerURL := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))}

	cfg := embed.NewConfig()
	cfg.Name = "ferry"
	cfg.Dir = opts.DataDir
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo = tls
	cfg.PeerTLSInfo = tls
	cfg.UnsafeNoFsync = opts.UnsafeNoFsync
	cfg.LogLevel = opts.LogLevel
	// Metrics of the embedded etcd would collide with the API server's on /metrics.
	cfg.Metrics = "basic"
	// etcd keeps this many applied raft entries in memory after each compaction of its log, for
	// a slow follower to catch up from. This member has no followers, so the default 5,000
	// entries were only memory: each is a whole written object, and with Applications' status
	// writes they held 27 MB of ferry-apiserver's heap at 1,000 Applications. Everything they
	// hold is in the WAL and the backend already.
	cfg.SnapshotCatchUpEntries = singleMemberCatchUpEntries

	klog.FromContext(ctx).Info("Starting embedded etcd", "dataDir", opts.DataDir, "clientURL", clientURL.String())
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w (is another ferry-apiserver using this --data-dir?)", opts.DataDir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(opts.StartTimeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s was not ready after %s", opts.DataDir, opts.StartTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Server{etcd: e, ClientURL: clientURL.String(), CAFile: creds.CAFile, CertFile: creds.ClientCertFile, KeyFile: creds.ClientKeyFile}, nil
}

// singleMemberCatchUpEntries is the raft entries kept in memory after a compaction of the
// log: a few, not etcd's 5,000 for followers that a single member does not have.
const singleMemberCatchUpEntries = 100

// Stop shuts etcd down, flushing its data.
func (s *Server) Stop() {
	s.etcd.Close()
}

// Err reports a fatal error of the running etcd.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

func freePorts(n int) ([]int, error) {
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port on 127.0.0.1 for embedded etcd: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
