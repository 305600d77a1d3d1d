// Command localstack starts and stops Ferry's local stack (pkg/testing/localstack): etcd,
// kube-apiserver, kube-controller-manager and ferry-apiserver on 127.0.0.1. hack/local-up.sh and
// hack/local-down.sh run it; `make test` runs the suite under `localstack exec`.
//
// Usage:
//
//	localstack up              start (or restart) the whole stack in FERRY_DEV_DIR
//	localstack restart-ferry   restart only ferry-apiserver (rebuilt unless FERRY_APISERVER_BIN
//	                           is set), same ports and data
//	localstack down [--purge]  stop it (and delete FERRY_DEV_DIR)
//	localstack exec -- CMD...  start a stack without Ferry in a temporary directory, run CMD with
//	                           FERRY_TEST_STACK naming it, stop it, exit with CMD's status
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

const usage = `Starts a complete local Ferry stack on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager
and ferry-apiserver registered through an APIService, exactly as Ferry runs in a cluster
(delegated authentication and authorisation, RBAC from artifacts/, TLS verified with a caBundle).

Usage:
  hack/local-up.sh                  start (or restart) the whole stack
  hack/local-up.sh --restart-ferry  restart only ferry-apiserver (rebuilt unless
                                    FERRY_APISERVER_BIN is set), same ports and data
  hack/local-down.sh [--purge]      stop it (and delete FERRY_DEV_DIR)

Running it again while the stack is up restarts it cleanly: the running processes are stopped and
started again with the same certificates, tokens and data, so Applications created earlier are
still there.

Environment:
  FERRY_DEV_DIR        working directory (default <repo>/.dev)
  ETCD_PORT            etcd client port        (default 22379)
  ETCD_PEER_PORT       etcd peer port          (default 22380)
  KUBE_PORT            kube-apiserver port     (default 26443)
  KCM_PORT             kube-controller-manager port (default 20257)
  SCHEDULER_PORT       kube-scheduler port     (default 20259)
  KWOK_PORT            kwok port, the Node's fake kubelet (default 20247)
  FERRY_PORT           ferry-apiserver port    (default 28443)
  FERRY_WEBHOOK_PORT   ferry-apiserver's webhook listener (Receivers) (default 28444)
                       Each port may be 0 or "auto": a free port is picked.
  FERRY_K8S_BIN        directory with etcd, kube-apiserver, kube-controller-manager,
                       kube-scheduler, kwok, kubectl
                       (default: built or reused by hack/build-control-plane.sh)
  FERRY_APISERVER_BIN  ferry-apiserver binary to run (default: go build ./cmd/ferry-apiserver)
  FERRY_SECOND_CLUSTER=0  no second cluster (by default one more etcd, kube-apiserver,
                       kube-controller-manager, kube-scheduler and kwok start in
                       FERRY_DEV_DIR/staging, on STAGING_ETCD_PORT 22479, STAGING_KUBE_PORT 26543,
                       STAGING_KCM_PORT 20357, STAGING_SCHEDULER_PORT 20359, STAGING_KWOK_PORT 20347)
  FERRY_SKIP_SERVER=1  start everything but ferry-apiserver and print how to run it by hand
                       (for a debugger); the APIService is registered all the same
  FERRY_DEMO=1         apply artifacts/examples/application.yaml and list Applications
  FERRY_APISERVER_ARGS extra flags for ferry-apiserver (split on spaces)
  WAIT_TIMEOUT         seconds to wait for each component (default 60)

Results in FERRY_DEV_DIR: kubeconfig (admin, system:masters), kubeconfig-<user> for the test users
viewer, editor, nobody and other (tokens in tokens.csv; none of them has any permission until
bound), logs/<component>.log, pids/<component>.pid, env (resolved ports, for scripts and tests).
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	root, err := localstack.RepoRoot()
	if err != nil {
		fail(err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "up":
		err = up(ctx, root)
	case "restart-ferry":
		err = restartFerry(ctx, root)
	case "down":
		purge := len(args) == 1 && args[0] == "--purge"
		if len(args) > 1 || (len(args) == 1 && !purge) {
			fail(fmt.Errorf("unknown argument %q (try --help)", strings.Join(args, " ")))
		}
		err = localstack.Down(devDir(root), purge, logf)
	case "exec":
		if len(args) > 0 && args[0] == "--" {
			args = args[1:]
		}
		var code int
		code, err = execWithStack(ctx, root, args)
		if err == nil {
			cancel()
			os.Exit(code)
		}
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fail(fmt.Errorf("unknown command %q (try --help)", cmd))
	}
	if err != nil {
		fail(err)
	}
}

func logf(format string, args ...any) { fmt.Printf(">>> "+format+"\n", args...) }

func fail(err error) {
	fmt.Fprintf(os.Stderr, "!!! FAILED: %v\n", err)
	fmt.Fprintln(os.Stderr, "!!! fix the cause and re-run (it restarts cleanly); hack/local-down.sh stops whatever is still running.")
	os.Exit(1)
}

func devDir(root string) string {
	if d := os.Getenv("FERRY_DEV_DIR"); d != "" {
		if abs, err := filepath.Abs(d); err == nil {
			return abs
		}
		return d
	}
	return filepath.Join(root, ".dev")
}

// port reads a port variable: unset gives def, 0 or auto a free port.
func port(name string, def int) int {
	v := os.Getenv(name)
	switch v {
	case "":
		return def
	case "0", "auto":
		return 0
	}
	p, err := strconv.Atoi(v)
	if err != nil || p <= 0 || p > 65535 {
		fail(fmt.Errorf("%s=%s is not a port number, 0 or auto", name, v))
	}
	return p
}

func config(root string) localstack.Config {
	cfg := localstack.Config{
		Dir: devDir(root), RepoRoot: root,
		K8sBin:    os.Getenv("FERRY_K8S_BIN"),
		FerryBin:  os.Getenv("FERRY_APISERVER_BIN"),
		FerryArgs: strings.Fields(os.Getenv("FERRY_APISERVER_ARGS")),
		SkipFerry: os.Getenv("FERRY_SKIP_SERVER") == "1",
		Out:       os.Stdout,
	}
	d := localstack.DefaultPorts
	cfg.Ports = localstack.Ports{Etcd: port("ETCD_PORT", d.Etcd), Kube: port("KUBE_PORT", d.Kube), KCM: port("KCM_PORT", d.KCM),
		Scheduler: port("SCHEDULER_PORT", d.Scheduler), Kwok: port("KWOK_PORT", d.Kwok), Ferry: port("FERRY_PORT", d.Ferry),
		FerryWebhook: port("FERRY_WEBHOOK_PORT", d.FerryWebhook)}
	peerDefault := 0
	if cfg.Ports.Etcd != 0 {
		peerDefault = cfg.Ports.Etcd + 1
	}
	cfg.Ports.EtcdPeer = port("ETCD_PEER_PORT", peerDefault)
	if v := os.Getenv("WAIT_TIMEOUT"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs <= 0 {
			fail(fmt.Errorf("WAIT_TIMEOUT=%s is not a number of seconds", v))
		}
		cfg.WaitTimeout = time.Duration(secs) * time.Second
	}
	return cfg
}

func up(ctx context.Context, root string) error {
	cfg := config(root)
	s, err := localstack.Up(ctx, cfg)
	if err != nil {
		return err
	}
	var second *localstack.Stack
	if os.Getenv("FERRY_SECOND_CLUSTER") != "0" {
		if second, err = upSecondCluster(ctx, cfg, s); err != nil {
			return err
		}
	}
	if cfg.SkipFerry {
		bin := cfg.FerryBin
		if bin == "" {
			bin = filepath.Join(s.Dir, "bin", "ferry-apiserver")
		}
		logf("FERRY_SKIP_SERVER=1: ferry-apiserver not started. Run it yourself (e.g. under dlv) with:")
		fmt.Println("    " + strings.Join(s.FerryCommand(bin, cfg.FerryArgs...), " "))
		logf("the APIService turns Available once it serves on 127.0.0.1:%s", s.Env["FERRY_PORT"])
	} else if os.Getenv("FERRY_DEMO") == "1" {
		if err := demo(ctx, s, second); err != nil {
			return err
		}
	}
	summary(s, second)
	return nil
}

// upSecondCluster starts a second, smaller cluster (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and a kwok Node; no Ferry) in FERRY_DEV_DIR/staging,
// for Applications and ApplicationSets that deploy to another cluster.
func upSecondCluster(ctx context.Context, main localstack.Config, s *localstack.Stack) (*localstack.Stack, error) {
	d := localstack.SecondClusterPorts
	ports := localstack.Ports{Etcd: port("STAGING_ETCD_PORT", d.Etcd), EtcdPeer: port("STAGING_ETCD_PEER_PORT", d.EtcdPeer),
		Kube: port("STAGING_KUBE_PORT", d.Kube), KCM: port("STAGING_KCM_PORT", d.KCM), Scheduler: port("STAGING_SCHEDULER_PORT", d.Scheduler),
		Kwok: port("STAGING_KWOK_PORT", d.Kwok)}
	dir := filepath.Join(s.Dir, localstack.SecondClusterDir)
	logf("starting the second cluster, staging, in %s (FERRY_SECOND_CLUSTER=0 skips it)", dir)
	return localstack.Up(ctx, localstack.Config{Dir: dir, RepoRoot: main.RepoRoot, K8sBin: s.Env["FERRY_K8S_BIN"], Bare: true,
		Ports: ports, WaitTimeout: main.WaitTimeout, Out: os.Stdout})
}

func restartFerry(ctx context.Context, root string) error {
	s, err := localstack.Attach(devDir(root))
	if err != nil {
		return err
	}
	cfg := config(root)
	if err := s.RestartFerryWith(ctx, cfg); err != nil {
		return err
	}
	pid, _ := s.Pid("ferry-apiserver")
	logf("ferry-apiserver restarted (pid %d)", pid)
	return nil
}

// execWithStack runs argv with a shared stack (no Ferry) for its tests and stops it afterwards.
func execWithStack(ctx context.Context, root string, argv []string) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("exec needs a command to run, such as go test")
	}
	dir, err := os.MkdirTemp("", "ferry-test-stack-")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	logf("starting one local control plane for the package tests in %s", dir)
	s, err := localstack.Up(ctx, localstack.Config{Dir: dir, RepoRoot: root, K8sBin: os.Getenv("FERRY_K8S_BIN"), Bare: true, WithParent: true, Out: os.Stdout})
	defer func() {
		if err := localstack.Down(dir, true, func(string, ...any) {}); err != nil {
			fmt.Fprintf(os.Stderr, "!!! stopping the test stack: %v\n", err)
		}
	}()
	if err != nil {
		// Said now: the deferred stop deletes the logs the error quotes.
		fmt.Fprintf(os.Stderr, "!!! FAILED: %v\n", err)
		return 1, nil
	}
	logf("control plane up in %s (kube-apiserver 127.0.0.1:%s); running %s", time.Since(start).Round(time.Millisecond), s.Env["KUBE_PORT"], strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), localstack.SharedStackEnv+"="+dir)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	// An interrupt reaches the command through the terminal's process group; this process waits
	// for it and then stops the stack.
	err = cmd.Wait()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), nil
	}
	return 0, err
}
