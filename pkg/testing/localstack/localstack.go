// Package localstack runs a real local control plane on free ports of 127.0.0.1, in Go: etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler and one Node whose kubelet is kwok
// (all built once by hack/build-control-plane.sh), so that Pods run, Deployments become
// Available and Jobs complete; certificates from k8s.io/client-go/util/cert, processes
// supervised here, and optionally ferry-apiserver registered through an APIService. hack/local-up.sh (make dev-up) is a thin
// wrapper over the same code (hack/localstack), tests use Start or Main, and `make test` runs
// the whole suite with one stack shared by every package's tests (SharedStackEnv).
package localstack

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// SharedStackEnv names a running stack's directory that tests attach to instead of starting
// their own; `make test` starts one for the whole suite (hack/localstack exec).
const SharedStackEnv = "FERRY_TEST_STACK"

// Options choose what to start.
type Options struct {
	// FerryBin, when set, is started as ferry-apiserver and registered; otherwise the stack is a
	// bare cluster (Config.Bare).
	FerryBin string
	// FerryArgs are extra flags for ferry-apiserver.
	FerryArgs []string
	// FerryEnv are extra environment variables for ferry-apiserver alone, kept for restarts.
	FerryEnv []string
	// Profiling serves kube-apiserver's /debug/pprof (to system:masters), for benchmarks.
	Profiling bool
	// NoNode: no kube-scheduler and no kwok, so no Pod runs (Config.NoNode).
	NoNode bool
	// ControllerManagerArgs are extra flags for kube-controller-manager.
	ControllerManagerArgs []string
	// Keep leaves the stack running should the test process die without calling Stop, for
	// looking at it afterwards; by default it stops when the process that started it dies.
	Keep bool
}

// Stack is a running local control plane.
type Stack struct {
	RepoRoot string
	Dir      string
	Env      map[string]string
	FerryBin string
	tokens   map[string]string
	layout   Layout
	// ferryEnv: extra environment of ferry-apiserver, for its restarts.
	ferryEnv []string
	// procs are the components this process started, by name.
	procs map[string]*process
	// withParent: the components stop when the process that started them dies.
	withParent bool
	// shared: attached to, not started here, so Stop leaves it running.
	shared bool
}

// Start brings a stack up in a new temporary directory. Unless opts.Keep, it stops by itself
// should the test process die without calling Stop.
func Start(opts Options) (*Stack, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ferry-stack-")
	if err != nil {
		return nil, err
	}
	var progress bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	s, err := Up(ctx, Config{
		Dir: dir, RepoRoot: root, K8sBin: os.Getenv("FERRY_K8S_BIN"),
		FerryBin: opts.FerryBin, FerryArgs: opts.FerryArgs, FerryEnv: opts.FerryEnv, Bare: opts.FerryBin == "",
		WithParent: !opts.Keep, Out: &progress, Profiling: opts.Profiling, NoNode: opts.NoNode,
		ControllerManagerArgs: opts.ControllerManagerArgs,
	})
	if err != nil {
		// The message quotes the components' logs: take it before they are deleted.
		err = fmt.Errorf("starting the local stack in %s: %s\n%s", dir, err.Error(), progress.String())
		if !opts.Keep {
			_ = Down(dir, true, func(string, ...any) {})
		}
		return nil, err
	}
	s.withParent = !opts.Keep
	return s, nil
}

// Attach uses a stack already running in dir (such as make dev-up's .dev, or SharedStackEnv's);
// Stop leaves it running.
func Attach(dir string) (*Stack, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	s := &Stack{RepoRoot: root, Dir: dir, layout: Layout{Dir: dir}, shared: true}
	if s.Env, err = s.layout.readEnv(); err == nil {
		s.tokens, err = readTokens(s.layout.tokensFile())
	}
	if err != nil {
		return nil, fmt.Errorf("no stack to attach to in %s (start one with make dev-up): %w", dir, err)
	}
	if _, ok := s.layout.pid("kube-apiserver"); !ok {
		return nil, fmt.Errorf("the stack in %s is not running (start it with make dev-up)", dir)
	}
	s.FerryBin = s.Env["FERRY_APISERVER_BIN"]
	return s, nil
}

// Shared reports whether the stack was attached to rather than started here.
func (s *Stack) Shared() bool { return s.shared }

// FerryRunning reports whether ferry-apiserver runs in the stack.
func (s *Stack) FerryRunning() bool {
	_, ok := s.layout.pid("ferry-apiserver")
	return ok
}

// Pid is the process id of a running component (etcd, kube-apiserver, ferry-apiserver, ...).
func (s *Stack) Pid(component string) (int, error) {
	pid, ok := s.layout.pid(component)
	if !ok {
		return 0, fmt.Errorf("%s is not running in %s", component, s.Dir)
	}
	return pid, nil
}

// Stop stops every process and deletes the directory, unless the stack was attached to.
func (s *Stack) Stop() {
	if s.shared {
		return
	}
	if err := Down(s.Dir, true, func(string, ...any) {}); err != nil {
		fmt.Fprintf(os.Stderr, "stopping the local stack in %s: %v\n", s.Dir, err)
	}
}

// RestConfig is a client configuration for one of the token-file users: admin (system:masters),
// viewer, editor, nobody, other, or Ferry's own ServiceAccount identity.
func (s *Stack) RestConfig(user string) *rest.Config {
	return &rest.Config{
		Host:            "https://127.0.0.1:" + s.Env["KUBE_PORT"],
		BearerToken:     s.tokens[user],
		TLSClientConfig: rest.TLSClientConfig{CAFile: s.layout.PKI("ca.crt")},
		UserAgent:       "ferry-test/" + user,
		Timeout:         30 * time.Second,
		QPS:             200,
		Burst:           400,
	}
}

// Kubectl is the v1.37 kubectl matching the control plane.
func (s *Stack) Kubectl() string { return s.Env["KUBECTL"] }

// Kubeconfig is the admin kubeconfig.
func (s *Stack) Kubeconfig() string { return s.layout.Kubeconfig("admin") }

// LogTail returns the last lines of a component's log, for test failures.
func (s *Stack) LogTail(component string, lines int) string {
	return TailFile(s.layout.Log(component), lines)
}

// TailFile returns the last lines of a file, or why it cannot be read.
func TailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)\n", err)
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n") + "\n"
}

// Token is the bearer token of a token-file user.
func (s *Stack) Token(user string) string { return s.tokens[user] }

// Script runs one of the repository's scripts with extra environment variables and returns what
// it printed.
func (s *Stack) Script(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(s.RepoRoot, name), args...)
	cmd.Dir = s.RepoRoot
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	return out.String(), err
}

// RepoRoot finds the repository above the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "build-control-plane.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (hack/build-control-plane.sh) above the working directory")
		}
		dir = parent
	}
}

// Main is a TestMain body for packages whose tests need a cluster: it attaches to the stack
// SharedStackEnv names or starts one of its own, sets *stack, runs the tests, stops a stack it
// started, and returns the exit code. With -short it starts nothing and leaves *stack nil, so
// the tests can skip. Tests on a shared stack make their own namespaces and names.
func Main(m *testing.M, opts Options, stack **Stack) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	var s *Stack
	var err error
	if dir := os.Getenv(SharedStackEnv); dir != "" {
		s, err = Attach(dir)
	} else {
		s, err = Start(opts)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "local control plane: %v\n", err)
		return 1
	}
	*stack = s
	defer s.Stop()
	return m.Run()
}

// BuildFerry builds the repository's ./cmd/ferry-apiserver into a new temporary directory, for
// test packages that run the server as its own process; remove deletes the directory.
func BuildFerry() (bin string, remove func(), err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "ferry-apiserver-bin-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { _ = os.RemoveAll(dir) }
	bin = filepath.Join(dir, "ferry-apiserver")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ferry-apiserver")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		remove()
		return "", nil, fmt.Errorf("go build ./cmd/ferry-apiserver: %v\n%s", err, out)
	}
	return bin, remove, nil
}
