// Package localstack starts a real local control plane for tests, with hack/local-up.sh: etcd,
// kube-apiserver and kube-controller-manager on free ports of 127.0.0.1, optionally with
// ferry-apiserver registered. Tests of the engine use it as the cluster they deploy into.
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
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// Options choose what to start.
type Options struct {
	// FerryBin, when set, is started as ferry-apiserver and registered; otherwise Ferry is not
	// started.
	FerryBin string
	// FerryArgs are extra flags for ferry-apiserver.
	FerryArgs []string
	// Keep leaves the stack running should the test process die without calling Stop, for
	// looking at it afterwards; by default it stops by itself.
	Keep bool
}

// Stack is a running local control plane.
type Stack struct {
	RepoRoot string
	Dir      string
	Env      map[string]string
	FerryBin string
	tokens   map[string]string
}

// Start brings the stack up in a new temporary directory. It stops by itself should the test
// process die without calling Stop.
func Start(opts Options) (*Stack, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ferry-stack-")
	if err != nil {
		return nil, err
	}
	s := &Stack{RepoRoot: root, Dir: dir, FerryBin: opts.FerryBin}
	env := []string{
		"FERRY_DEV_DIR=" + dir,
		"ETCD_PORT=0", "ETCD_PEER_PORT=0", "KUBE_PORT=0", "KCM_PORT=0", "FERRY_PORT=0",
		"FERRY_DEMO=0",
	}
	if !opts.Keep {
		env = append(env, "FERRY_STOP_WITH_PID="+strconv.Itoa(os.Getpid()))
	}
	if opts.FerryBin != "" {
		env = append(env, "FERRY_APISERVER_BIN="+opts.FerryBin, "FERRY_SKIP_SERVER=0",
			"FERRY_APISERVER_ARGS="+strings.Join(opts.FerryArgs, " "))
	} else {
		env = append(env, "FERRY_SKIP_SERVER=1")
	}
	if out, err := s.Script(20*time.Minute, env, "hack/local-up.sh"); err != nil {
		if !opts.Keep {
			s.Stop()
		}
		return nil, fmt.Errorf("hack/local-up.sh: %v\n%s", err, out)
	}
	if err := s.load(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Attach uses a stack already running in dir (hack/local-up.sh's FERRY_DEV_DIR, such as
// make dev-up's), which Stop would then tear down.
func Attach(dir string) (*Stack, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	s := &Stack{RepoRoot: root, Dir: dir}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("no stack to attach to in %s (start one with make dev-up): %w", dir, err)
	}
	return s, nil
}

// load reads the resolved ports and the users' tokens the stack's scripts wrote.
func (s *Stack) load() error {
	var err error
	if s.Env, err = readKeyValues(filepath.Join(s.Dir, "env"), "="); err != nil {
		return err
	}
	if s.tokens, err = readTokens(filepath.Join(s.Dir, "tokens.csv")); err != nil {
		return err
	}
	return nil
}

// Pid is the process id of a running component (etcd, kube-apiserver, ferry-apiserver, ...).
func (s *Stack) Pid(component string) (int, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir, "pids", component+".pid"))
	if err != nil {
		return 0, fmt.Errorf("%s is not running in %s: %w", component, s.Dir, err)
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// RestartFerry restarts ferry-apiserver with bin and args, keeping its data (restart_ferry of
// hack/local-up.sh).
func (s *Stack) RestartFerry(bin string, args ...string) error {
	env := []string{"FERRY_DEV_DIR=" + s.Dir, "FERRY_APISERVER_BIN=" + bin, "FERRY_APISERVER_ARGS=" + strings.Join(args, " ")}
	if out, err := s.Script(5*time.Minute, env, "hack/local-up.sh", "--restart-ferry"); err != nil {
		return fmt.Errorf("hack/local-up.sh --restart-ferry: %v\n%s", err, out)
	}
	s.FerryBin = bin
	return s.load()
}

// Stop stops every process and deletes the directory.
func (s *Stack) Stop() {
	if out, err := s.Script(2*time.Minute, []string{"FERRY_DEV_DIR=" + s.Dir}, "hack/local-down.sh", "--purge"); err != nil {
		fmt.Fprintf(os.Stderr, "hack/local-down.sh: %v\n%s", err, out)
	}
}

// RestConfig is a client configuration for one of the token-file users: admin (system:masters),
// viewer, editor, nobody, other, or Ferry's own ServiceAccount identity.
func (s *Stack) RestConfig(user string) *rest.Config {
	return &rest.Config{
		Host:            "https://127.0.0.1:" + s.Env["KUBE_PORT"],
		BearerToken:     s.tokens[user],
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(s.Dir, "pki", "ca.crt")},
		UserAgent:       "ferry-test/" + user,
		Timeout:         30 * time.Second,
		QPS:             200,
		Burst:           400,
	}
}

// Kubectl is the v1.37 kubectl matching the control plane.
func (s *Stack) Kubectl() string { return s.Env["KUBECTL"] }

// Kubeconfig is the admin kubeconfig.
func (s *Stack) Kubeconfig() string { return filepath.Join(s.Dir, "kubeconfig") }

// LogTail returns the last lines of a component's log, for test failures.
func (s *Stack) LogTail(component string, lines int) string {
	return TailFile(filepath.Join(s.Dir, "logs", component+".log"), lines)
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
		if _, err := os.Stat(filepath.Join(dir, "hack", "local-up.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (hack/local-up.sh) above the working directory")
		}
		dir = parent
	}
}

func readKeyValues(path, sep string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, sep); ok {
			kv[k] = strings.Trim(v, `"'`)
		}
	}
	if kv["KUBE_PORT"] == "" {
		return nil, fmt.Errorf("%s names no KUBE_PORT", path)
	}
	return kv, nil
}

// readTokens reads the token file: token,user,uid[,"groups"].
func readTokens(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tokens := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ",", 3); len(f) >= 2 {
			tokens[f[1]] = f[0]
		}
	}
	return tokens, nil
}

// Main is a TestMain body for packages whose tests need a cluster: it starts a stack, sets
// *stack, runs the tests and stops it, and returns the exit code. With -short it starts nothing
// and leaves *stack nil, so the tests can skip.
func Main(m *testing.M, opts Options, stack **Stack) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	s, err := Start(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local control plane: %v\n", err)
		return 1
	}
	*stack = s
	defer s.Stop()
	return m.Run()
}
