package localstack

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	certutil "k8s.io/client-go/util/cert"
)

// Config says what Up starts and where.
type Config struct {
	// Dir holds the stack (Layout); made when missing.
	Dir string
	// RepoRoot is Ferry's repository: artifacts/ and the build scripts.
	RepoRoot string
	// K8sBin holds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and
	// kubectl; empty runs
	// hack/build-control-plane.sh, which builds them once into a cache.
	K8sBin string
	// FerryBin is the ferry-apiserver to run; empty builds ./cmd/ferry-apiserver into Dir/bin.
	FerryBin string
	// FerryArgs are extra flags for ferry-apiserver.
	FerryArgs []string
	// FerryEnv are extra environment variables for ferry-apiserver alone (GOMEMLIMIT=...), kept
	// for its restarts.
	FerryEnv []string
	// SkipFerry starts everything but ferry-apiserver; the APIService is registered all the same
	// (to run Ferry by hand, under a debugger), unless Bare.
	SkipFerry bool
	// NoNode starts neither kube-scheduler nor kwok: the cluster has no Node and no Pod ever
	// runs. Benchmarks use it so their figures stay comparable with those recorded before the
	// stack had a Node.
	NoNode bool
	// Bare starts no Ferry and registers nothing of it: a plain cluster, for tests that run Ferry
	// in-process or not at all. An APIService nobody serves would leave discovery incomplete, and
	// namespaces could not finish deleting.
	Bare bool
	// Ports; zero picks a free one.
	Ports Ports
	// WaitTimeout bounds the wait for each component (default 60 s).
	WaitTimeout time.Duration
	// Profiling serves kube-apiserver's /debug/pprof (to system:masters).
	Profiling bool
	// ControllerManagerArgs are extra flags for kube-controller-manager.
	ControllerManagerArgs []string
	// WithParent stops every component when the process that called Up dies.
	WithParent bool
	// Out receives progress lines; nil discards them.
	Out io.Writer
}

func (c *Config) logf(format string, args ...any) {
	if c.Out != nil {
		fmt.Fprintf(c.Out, ">>> "+format+"\n", args...)
	}
}

// componentError is a component that failed to come up, with the end of its log and what to do.
type componentError struct {
	component, logPath, next string
	err                      error
}

func (e *componentError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.component, e.err)
	if e.logPath != "" {
		msg += fmt.Sprintf("\nlast 40 lines of %s:\n%s", e.logPath, indent(TailFile(e.logPath, 40)))
	}
	if e.next != "" {
		msg += "\nnext: " + e.next
	}
	return msg
}

func (e *componentError) Unwrap() error { return e.err }

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// Up starts (or restarts) a whole stack: etcd, kube-apiserver, kube-controller-manager and
// ferry-apiserver registered through an APIService, exactly as Ferry runs in a cluster (delegated
// authentication and authorisation, RBAC from artifacts/, TLS verified with a caBundle). Running
// processes of the same stack are stopped first; certificates, tokens and data are kept.
func Up(ctx context.Context, cfg Config) (*Stack, error) {
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 60 * time.Second
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	cfg.Dir = dir
	l := Layout{Dir: dir}
	if err := l.prepare(); err != nil {
		return nil, err
	}
	var running []string
	for _, c := range components {
		if _, ok := l.pid(c); ok {
			running = append(running, c)
		}
	}
	if len(running) > 0 {
		cfg.logf("already running in %s: %s; restarting (certificates, tokens and data are kept)", dir, strings.Join(running, " "))
		if err := Down(dir, false, cfg.logf); err != nil {
			return nil, err
		}
	}
	if cfg.K8sBin, err = controlPlaneBin(cfg); err != nil {
		return nil, err
	}
	if cfg.Bare {
		cfg.SkipFerry = true
	}
	if !cfg.SkipFerry {
		if cfg.FerryBin, err = buildFerry(cfg); err != nil {
			return nil, err
		}
	}
	held, err := cfg.Ports.resolve()
	if err != nil {
		return nil, err
	}
	defer held.release()
	if made, err := ensurePKI(filepath.Join(dir, "pki")); err != nil {
		return nil, fmt.Errorf("making certificates: %w", err)
	} else if made {
		cfg.logf("generated certificates in %s", filepath.Join(dir, "pki"))
	} else {
		cfg.logf("reusing certificates in %s", filepath.Join(dir, "pki"))
	}
	if err := ensureKubeletPKI(filepath.Join(dir, "pki")); err != nil {
		return nil, fmt.Errorf("making the kubelet API's certificates: %w", err)
	}
	tokens, err := l.ensureTokens()
	if err != nil {
		return nil, fmt.Errorf("writing tokens: %w", err)
	}
	if err := l.writeKubeconfigs(cfg.Ports.Kube, tokens); err != nil {
		return nil, fmt.Errorf("writing kubeconfigs: %w", err)
	}
	s := &Stack{RepoRoot: cfg.RepoRoot, Dir: dir, FerryBin: cfg.FerryBin, tokens: tokens, layout: l, ferryEnv: cfg.FerryEnv}
	s.Env = map[string]string{
		"FERRY_DEV_DIR": dir, "FERRY_K8S_BIN": cfg.K8sBin, "KUBECTL": filepath.Join(cfg.K8sBin, "kubectl"),
		"KUBECONFIG": l.Kubeconfig("admin"), "ETCD_PORT": strconv.Itoa(cfg.Ports.Etcd),
		"ETCD_PEER_PORT": strconv.Itoa(cfg.Ports.EtcdPeer), "KUBE_PORT": strconv.Itoa(cfg.Ports.Kube),
		"KCM_PORT": strconv.Itoa(cfg.Ports.KCM), "FERRY_PORT": strconv.Itoa(cfg.Ports.Ferry),
		"SCHEDULER_PORT": strconv.Itoa(cfg.Ports.Scheduler), "KWOK_PORT": strconv.Itoa(cfg.Ports.Kwok),
		"FERRY_WEBHOOK_PORT":  strconv.Itoa(cfg.Ports.FerryWebhook),
		"FERRY_APISERVER_BIN": cfg.FerryBin,
	}
	if err := l.writeEnv(s.Env); err != nil {
		return nil, err
	}
	held.free(cfg.Ports.Etcd, cfg.Ports.EtcdPeer)
	if err := s.startEtcd(ctx, cfg); err != nil {
		return s, err
	}
	held.free(cfg.Ports.Kube)
	if err := s.startKubeAPIServer(ctx, cfg); err != nil {
		return s, err
	}
	held.free(cfg.Ports.KCM)
	if err := s.startKubeControllerManager(ctx, cfg); err != nil {
		return s, err
	}
	if !cfg.NoNode {
		held.free(cfg.Ports.Scheduler)
		if err := s.startKubeScheduler(ctx, cfg); err != nil {
			return s, err
		}
		held.free(cfg.Ports.Kwok)
		if err := s.startKwok(ctx, cfg); err != nil {
			return s, err
		}
	}
	if cfg.Bare {
		return s, nil
	}
	if err := s.registerFerry(ctx, cfg); err != nil {
		return s, err
	}
	held.free(cfg.Ports.Ferry, cfg.Ports.FerryWebhook)
	if !cfg.SkipFerry {
		if err := s.startFerry(ctx, cfg); err != nil {
			return s, err
		}
	}
	return s, nil
}

func controlPlaneBin(cfg Config) (string, error) {
	dir := cfg.K8sBin
	if dir == "" {
		cfg.logf("control-plane binaries: hack/build-control-plane.sh (cached after the first build)")
		cmd := exec.Command(filepath.Join(cfg.RepoRoot, "hack", "build-control-plane.sh"))
		cmd.Dir = cfg.RepoRoot
		cmd.Stderr = cfg.Out
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("hack/build-control-plane.sh failed (%v): read its output above", err)
		}
		dir = strings.TrimSpace(string(out))
	}
	for _, b := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"} {
		if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%s is missing: run hack/build-control-plane.sh, or point FERRY_K8S_BIN at a directory holding it", filepath.Join(dir, b))
		}
	}
	return dir, nil
}

func buildFerry(cfg Config) (string, error) {
	if cfg.FerryBin != "" {
		if fi, err := os.Stat(cfg.FerryBin); err != nil || fi.Mode()&0o111 == 0 {
			return "", fmt.Errorf("ferry-apiserver binary %s is not an executable", cfg.FerryBin)
		}
		return cfg.FerryBin, nil
	}
	l := Layout{Dir: cfg.Dir}
	bin := filepath.Join(cfg.Dir, "bin", "ferry-apiserver")
	cfg.logf("building ferry-apiserver (go build ./cmd/ferry-apiserver)")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ferry-apiserver")
	cmd.Dir = cfg.RepoRoot
	out, err := cmd.CombinedOutput()
	_ = os.WriteFile(l.Log("build-ferry-apiserver"), out, 0o644)
	if err != nil {
		return "", &componentError{component: "go build ./cmd/ferry-apiserver", err: err, logPath: l.Log("build-ferry-apiserver"),
			next: "fix the compile errors, or set FERRY_SKIP_SERVER=1 to bring up the control plane alone"}
	}
	return bin, nil
}

// stillOurs reports whether component is a process this one started and whose end its reaper
// has not seen within 2 s. The reaper is authoritative for our own children: /proc was once
// read with an empty command line for an etcd that went on running, and the stack failed.
func (s *Stack) stillOurs(component string) bool {
	p := s.procs[component]
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	case <-time.After(2 * time.Second):
		return true
	}
}

// waitFor polls check every 200 ms until it succeeds, printing progress every 5 s. It gives up
// when component's process has exited or cfg.WaitTimeout has passed.
func (s *Stack) waitFor(ctx context.Context, cfg Config, component, what string, check func(context.Context) error) error {
	start := time.Now()
	nextReport := start.Add(5 * time.Second)
	var last error
	for {
		callCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(callCtx)
		cancel()
		if last == nil {
			cfg.logf("    %s after %.3fs", what, time.Since(start).Seconds())
			return nil
		}
		if _, err := s.layout.running(component); err != nil && !s.stillOurs(component) {
			p := s.procs[component]
			// Now and then (about 1 start in 20 here) a component is killed by a signal before
			// it has written a line; nothing about it is wrong, so once it is started again.
			if p.killedSilently(s.layout.Log(component)) && !p.restarted {
				cfg.logf("    %s was killed (%s) before it wrote anything; starting it once more", component, p.ending())
				if err := s.startProcess(component, p.withParent, p.env, p.argv...); err != nil {
					return err
				}
				s.procs[component].restarted = true
				start = time.Now()
				continue
			}
			if ending := s.procs[component].ending(); ending != "" {
				err = fmt.Errorf("%w: %s", err, ending)
			}
			return &componentError{component: component, err: fmt.Errorf("exited while waiting for %s: %w", what, err), logPath: s.layout.Log(component)}
		}
		if time.Since(start) > cfg.WaitTimeout {
			return &componentError{component: component, err: fmt.Errorf("timed out after %s waiting for %s (last: %v)", cfg.WaitTimeout, what, last), logPath: s.layout.Log(component)}
		}
		if time.Now().After(nextReport) {
			cfg.logf("    ... still waiting for %s (%ds)", what, int(time.Since(start).Seconds()))
			nextReport = time.Now().Add(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// httpOK is a probe: GET url succeeds with 200, verifying the server with caFile (or not at all
// when caFile is empty), with a bearer token when one is given.
func httpOK(url, caFile, token string) func(context.Context) error {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	var poolErr error
	if caFile != "" {
		var pool *x509.CertPool
		pool, poolErr = certutil.NewPool(caFile)
		tlsConfig.RootCAs = pool
	} else {
		tlsConfig.InsecureSkipVerify = true //nolint:gosec // a self-signed probe target, see startKubeControllerManager
	}
	if poolErr != nil {
		return func(context.Context) error { return poolErr }
	}
	return getOK(&http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}}, url, token)
}

// getOK is a probe: GET url with client succeeds with 200.
func getOK(client *http.Client, url, token string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

func (s *Stack) startEtcd(ctx context.Context, cfg Config) error {
	p := cfg.Ports
	data := filepath.Join(s.Dir, "etcd")
	cfg.logf("starting etcd on 127.0.0.1:%d (peer %d), data in %s", p.Etcd, p.EtcdPeer, data)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	client := s.EtcdURL()
	peer := fmt.Sprintf("http://127.0.0.1:%d", p.EtcdPeer)
	if err := s.startProcess("etcd", cfg.WithParent, nil, append([]string{filepath.Join(cfg.K8sBin, "etcd"),
		"--name", "ferry-dev", "--data-dir", data,
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "ferry-dev=" + peer,
		"--unsafe-no-fsync", "--log-level", "warn"}, s.EtcdMemberTLSFlags()...)...); err != nil {
		return err
	}
	return s.waitFor(ctx, cfg, "etcd", "etcd healthy", s.EtcdHealthy(client))
}

func (s *Stack) startKubeAPIServer(ctx context.Context, cfg Config) error {
	p, l := cfg.Ports, s.layout
	cfg.logf("starting kube-apiserver on 127.0.0.1:%d", p.Kube)
	if err := s.startProcess("kube-apiserver", cfg.WithParent, nil, filepath.Join(cfg.K8sBin, "kube-apiserver"),
		"--etcd-servers", s.EtcdURL(), "--etcd-cafile", l.PKI("etcd-ca.crt"),
		"--etcd-certfile", l.PKI("kube-apiserver-etcd-client.crt"), "--etcd-keyfile", l.PKI("kube-apiserver-etcd-client.key"),
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(p.Kube),
		"--advertise-address", "127.0.0.1", "--endpoint-reconciler-type", "none",
		"--tls-cert-file", l.PKI("kube-apiserver.crt"), "--tls-private-key-file", l.PKI("kube-apiserver.key"),
		"--client-ca-file", l.PKI("ca.crt"),
		"--token-auth-file", l.tokensFile(),
		"--service-account-key-file", l.PKI("sa.pub"),
		"--service-account-signing-key-file", l.PKI("sa.key"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--api-audiences", "https://kubernetes.default.svc.cluster.local",
		// 65,534 Service IPs: a /24 ran out at 254 Services, and the side-by-side benchmark
		// deploys a Service for each of 1,000 apps.
		"--service-cluster-ip-range", "10.0.0.0/16",
		"--authorization-mode", "Node,RBAC",
		"--requestheader-client-ca-file", l.PKI("front-proxy-ca.crt"),
		"--requestheader-allowed-names", "front-proxy-client",
		"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
		"--requestheader-group-headers", "X-Remote-Group",
		"--requestheader-username-headers", "X-Remote-User",
		"--proxy-client-cert-file", l.PKI("front-proxy-client.crt"),
		"--proxy-client-key-file", l.PKI("front-proxy-client.key"),
		"--enable-aggregator-routing=true",
		// pods/log (kubectl logs) reaches the Node's kubelet, kwok, at its InternalIP 127.0.0.1:
		// its Hostname address, tried first by default, resolves nowhere. The serving certificate
		// is verified against the kubelet CA, and kube-apiserver presents its own, as kubeadm sets
		// it up (kwok asks for none).
		"--kubelet-preferred-address-types", "InternalIP",
		"--kubelet-certificate-authority", l.PKI("kubelet-ca.crt"),
		"--kubelet-client-certificate", l.PKI("kube-apiserver-kubelet-client.crt"),
		"--kubelet-client-key", l.PKI("kube-apiserver-kubelet-client.key"),
		"--profiling="+strconv.FormatBool(cfg.Profiling)); err != nil {
		return err
	}
	return s.waitFor(ctx, cfg, "kube-apiserver", "kube-apiserver /readyz",
		httpOK(fmt.Sprintf("https://127.0.0.1:%d/readyz", p.Kube), l.PKI("ca.crt"), s.tokens["admin"]))
}

func (s *Stack) startKubeControllerManager(ctx context.Context, cfg Config) error {
	p, l := cfg.Ports, s.layout
	cfg.logf("starting kube-controller-manager on 127.0.0.1:%d", p.KCM)
	certDir := filepath.Join(s.Dir, "kcm-certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return err
	}
	kubeconfig := l.Kubeconfig("kube-controller-manager")
	// --kube-api-qps: at the default 20 requests per second, finishing 200 Deployments takes it
	// ~40 s and deleting a namespace ~2 s, which benchmarks and tests would otherwise measure.
	args := append([]string{filepath.Join(cfg.K8sBin, "kube-controller-manager"),
		"--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig, "--authorization-kubeconfig", kubeconfig,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(p.KCM),
		"--cert-dir", certDir,
		"--controllers", "*", "--leader-elect=false",
		"--kube-api-qps", "200", "--kube-api-burst", "400",
		// The quota controller counts a kind it learns from discovery (every 30 s, so Ferry's
		// Applications shortly after Ferry registers) only at its next full resync: 5 min by
		// default, which a quota created in between would wait for.
		"--resource-quota-sync-period", "10s",
		"--use-service-account-credentials=false",
		"--service-account-private-key-file", l.PKI("sa.key"),
		"--root-ca-file", l.PKI("ca.crt"),
		"--cluster-signing-cert-file", l.PKI("ca.crt"), "--cluster-signing-key-file", l.PKI("ca.key"),
		"--profiling=false"}, cfg.ControllerManagerArgs...)
	if err := s.startProcess("kube-controller-manager", cfg.WithParent, nil, args...); err != nil {
		return err
	}
	// Its serving certificate is self-signed in kcm-certs/, hence no verification for this probe.
	if err := s.waitFor(ctx, cfg, "kube-controller-manager", "kube-controller-manager /healthz",
		httpOK(fmt.Sprintf("https://127.0.0.1:%d/healthz", p.KCM), "", "")); err != nil {
		return err
	}
	// Controllers really run once the ServiceAccount controller has created default/default.
	return s.waitFor(ctx, cfg, "kube-controller-manager", "controllers running (ServiceAccount default/default)",
		httpOK(fmt.Sprintf("https://127.0.0.1:%d/api/v1/namespaces/default/serviceaccounts/default", p.Kube), l.PKI("ca.crt"), s.tokens["admin"]))
}

// RunKubectl runs the stack's kubectl as admin with stdin, returning what it printed.
func (s *Stack) RunKubectl(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Kubectl(), append([]string{"--kubeconfig", s.Kubeconfig(), "--cache-dir", filepath.Join(s.Dir, ".kube-cache")}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// localEndpoint routes Ferry's Service to this machine: no selector, and an FQDN EndpointSlice
// "127.0.0.1" (the 1.37 aggregator refuses loopback IPs but resolves an FQDN slice).
const localEndpoint = `apiVersion: v1
kind: Service
metadata:
  name: ferry-apiserver
  namespace: ferry-system
  labels:
    app.kubernetes.io/name: ferry-apiserver
    app.kubernetes.io/managed-by: ferry-local-up
spec:
  ports:
  - name: https
    port: 443
    protocol: TCP
    targetPort: %[1]d
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ferry-apiserver-local
  namespace: ferry-system
  labels:
    kubernetes.io/service-name: ferry-apiserver
    endpointslice.kubernetes.io/managed-by: local-up.ferry.dev
addressType: FQDN
endpoints:
- addresses: ["127.0.0.1"]
  conditions:
    ready: true
ports:
- name: https
  port: %[1]d
  protocol: TCP
`

// apiService is the APIService Ferry registers.
const apiService = "v1alpha1.gitops.ferry.dev"

// registerFerry applies what kube-apiserver needs to route gitops.ferry.dev to Ferry's port: the
// namespace, ServiceAccount and RBAC from artifacts/ unchanged, the local Service and
// EndpointSlice, and artifacts/base/apiservice.yaml with Ferry's CA as caBundle.
func (s *Stack) registerFerry(ctx context.Context, cfg Config) error {
	cfg.logf("registering Ferry: artifacts/base/{namespace,serviceaccount,rbac}.yaml, local Service/EndpointSlice, APIService")
	art := func(name string) string { return filepath.Join(cfg.RepoRoot, "artifacts", "base", name) }
	if out, err := s.RunKubectl(ctx, "", "apply", "-f", art("namespace.yaml"), "-f", art("serviceaccount.yaml"), "-f", art("rbac.yaml")); err != nil {
		return &componentError{component: "kube-apiserver", err: fmt.Errorf("kubectl apply of artifacts/ failed: %v: %s", err, out), logPath: s.layout.Log("kube-apiserver")}
	}
	if out, err := s.RunKubectl(ctx, fmt.Sprintf(localEndpoint, cfg.Ports.Ferry), "apply", "-f", "-"); err != nil {
		return &componentError{component: "kube-apiserver", err: fmt.Errorf("kubectl apply of the local Service/EndpointSlice failed: %v: %s", err, out), logPath: s.layout.Log("kube-apiserver")}
	}
	ca, err := os.ReadFile(s.layout.PKI("ferry-ca.crt"))
	if err != nil {
		return err
	}
	manifest, err := os.ReadFile(art("apiservice.yaml"))
	if err != nil {
		return err
	}
	withCA := strings.ReplaceAll(string(manifest), "${FERRY_CA_BUNDLE}", base64.StdEncoding.EncodeToString(ca))
	if out, err := s.RunKubectl(ctx, withCA, "apply", "-f", "-"); err != nil {
		return &componentError{component: "kube-apiserver", err: fmt.Errorf("kubectl apply of artifacts/base/apiservice.yaml failed: %v: %s", err, out), logPath: s.layout.Log("kube-apiserver")}
	}
	return nil
}

// FerryCommand is the command line ferry-apiserver runs with in this stack.
func (s *Stack) FerryCommand(bin string, extra ...string) []string {
	l := s.layout
	return append([]string{bin,
		"--bind-address", "127.0.0.1", "--secure-port", s.Env["FERRY_PORT"],
		"--tls-cert-file", l.PKI("ferry-apiserver.crt"), "--tls-private-key-file", l.PKI("ferry-apiserver.key"),
		"--kubeconfig", l.Kubeconfig("ferry-apiserver"),
		"--authentication-kubeconfig", l.Kubeconfig("ferry-apiserver"),
		"--authorization-kubeconfig", l.Kubeconfig("ferry-apiserver"),
		"--data-dir", filepath.Join(s.Dir, "ferry-data"),
		// The stack's Git servers and chart repositories listen on 127.0.0.1, which the egress
		// policy denies by default; the rest of loopback (127.0.0.2 ...) stays denied.
		"--allow-file-repositories", "--egress-allow-cidrs=127.0.0.1/32",
		// The tests' notification sinks listen on 127.0.0.1 too; other loopback addresses stay
		// refused, so that refusal can be tested.
		"--notification-allowed-cidrs=127.0.0.1/32"}, append(s.webhookFlags(), extra...)...)
}

// webhookFlags serve Receivers' webhooks on 127.0.0.1 (a stack made before there was a
// listener has no port for it, and serves none).
func (s *Stack) webhookFlags() []string {
	if p := s.Env["FERRY_WEBHOOK_PORT"]; p != "" && p != "0" {
		return []string{"--webhook-bind-address=127.0.0.1:" + p}
	}
	return nil
}

func (s *Stack) startFerry(ctx context.Context, cfg Config) error {
	data := filepath.Join(s.Dir, "ferry-data")
	cfg.logf("starting ferry-apiserver on 127.0.0.1:%s (%s), data in %s", s.Env["FERRY_PORT"], cfg.FerryBin, data)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return err
	}
	if err := s.startProcess("ferry-apiserver", cfg.WithParent, s.ferryEnv, s.FerryCommand(cfg.FerryBin, cfg.FerryArgs...)...); err != nil {
		return err
	}
	if err := s.waitFor(ctx, cfg, "ferry-apiserver", "ferry-apiserver /readyz",
		httpOK("https://127.0.0.1:"+s.Env["FERRY_PORT"]+"/readyz", s.layout.PKI("ferry-ca.crt"), "")); err != nil {
		var ce *componentError
		if errors.As(err, &ce) {
			ce.next = "if /readyz answers 401/403, check --authorization-always-allow-paths; else read the log above"
		}
		return err
	}
	err := s.waitFor(ctx, cfg, "ferry-apiserver", "APIService "+apiService+" Available", func(ctx context.Context) error {
		out, err := s.RunKubectl(ctx, "", "get", "apiservice", apiService, "-o",
			`jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].reason}: {.status.conditions[?(@.type=="Available")].message}`)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if !strings.HasPrefix(out, "True ") {
			return errors.New(out)
		}
		return nil
	})
	var ce *componentError
	if errors.As(err, &ce) {
		ce.next = "check " + s.layout.Log("kube-apiserver") + " for the aggregator's view (grep " + apiService + ") and the log above"
	}
	return err
}

// RestartFerry restarts ferry-apiserver with bin and args, keeping its port and data.
func (s *Stack) RestartFerry(bin string, args ...string) error {
	return s.RestartFerryWith(context.Background(), Config{RepoRoot: s.RepoRoot, Dir: s.Dir, FerryBin: bin, FerryArgs: args, WithParent: s.withParent})
}

// RestartFerryWith restarts ferry-apiserver as cfg says (FerryBin, FerryArgs, WaitTimeout, Out),
// keeping its port and data.
func (s *Stack) RestartFerryWith(ctx context.Context, cfg Config) error {
	cfg.RepoRoot, cfg.Dir = s.RepoRoot, s.Dir
	if cfg.WaitTimeout == 0 {
		cfg.WaitTimeout = 60 * time.Second
	}
	if _, ok := s.layout.pid("kube-apiserver"); !ok {
		return &componentError{component: "kube-apiserver", err: fmt.Errorf("not running in %s", s.Dir), logPath: s.layout.Log("kube-apiserver"), next: "start the whole stack (hack/local-up.sh)"}
	}
	bin, err := buildFerry(cfg)
	if err != nil {
		return err
	}
	cfg.FerryBin = bin
	if err := s.layout.stopProcess("ferry-apiserver", cfg.logf); err != nil {
		return err
	}
	port, _ := strconv.Atoi(s.Env["FERRY_PORT"])
	if portInUse(port) {
		return fmt.Errorf("ferry-apiserver's port %d is still in use after stopping it: find the process with ss -ltnp 'sport = :%d'", port, port)
	}
	s.Env["FERRY_APISERVER_BIN"] = bin
	s.FerryBin = bin
	if err := s.layout.writeEnv(s.Env); err != nil {
		return err
	}
	return s.startFerry(ctx, cfg)
}

// startProcess starts a component and keeps its process, to say how it ended should it exit.
func (s *Stack) startProcess(name string, withParent bool, env []string, argv ...string) error {
	p, err := s.layout.startProcess(name, withParent, env, argv...)
	if err != nil {
		return err
	}
	if s.procs == nil {
		s.procs = map[string]*process{}
	}
	s.procs[name] = p
	return nil
}
