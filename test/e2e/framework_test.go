// Package e2e tests Ferry end to end: a real etcd, kube-apiserver and kube-controller-manager on
// 127.0.0.1, ferry-apiserver registered through an APIService, driven by the real kubectl (v1.37,
// from hack/build-control-plane.sh's cache) and by the generated client-go clientset.
//
// TestMain brings the stack up with pkg/testing/localstack in a temporary directory on free ports
// and tears it down afterwards. `go test -short` skips every test.
//
// Environment:
//
//	FERRY_APISERVER_BIN  use this ferry-apiserver binary instead of building ./cmd/ferry-apiserver
//	FERRY_K8S_BIN        directory with etcd, kube-apiserver, kube-controller-manager and kubectl
//	                     (default: hack/build-control-plane.sh, which builds them once into a cache)
//	FERRY_E2E_KEEP=1     leave the stack running after the tests and print where it is
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned"
	polling "github.com/ferry-gitops/ferry/pkg/testing/eventually"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

// stack is the running local stack, set by TestMain; nil when the tests are skipped.
var stack *Stack

// skipReason says why stack is nil.
var skipReason string

// ferryArgs are the flags of the e2e stack's ferry-apiserver, restarts included: a Git cache
// grace period short enough for a test to see a repository collected, and a repository size
// limit small enough for a test to cross, and Clusters probed often enough for a test to see one
// go and come back.
var ferryArgs = []string{"--git-cache-unused-grace-period=3s", "--git-max-repository-size=8Mi", "--cluster-probe-interval=2s"}

// Stack is one local Ferry stack started by pkg/testing/localstack.
type Stack struct {
	*localstack.Stack
	Kubectl string // the v1.37 kubectl matching the control plane
	binDir  string // where TestMain built ferry-apiserver, removed with the stack
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if testing.Short() {
		skipReason = "e2e tests start etcd, kube-apiserver, kube-controller-manager and ferry-apiserver; skipped with -short"
		return m.Run()
	}
	s, err := startStack()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the local stack: %v\n", err)
		if s != nil {
			s.down(os.Getenv("FERRY_E2E_KEEP") == "1")
		}
		return 1
	}
	stack = s
	code := m.Run()
	if code != 0 {
		for _, c := range []string{"ferry-apiserver", "kube-apiserver"} {
			fmt.Fprintf(os.Stderr, "\n==== last 60 lines of %s.log ====\n%s", c, s.LogTail(c, 60))
		}
	}
	stopRemote()
	s.down(os.Getenv("FERRY_E2E_KEEP") == "1")
	return code
}

func startStack() (*Stack, error) {
	root, err := localstack.RepoRoot()
	if err != nil {
		return nil, err
	}
	bin, binDir := os.Getenv("FERRY_APISERVER_BIN"), ""
	if bin == "" {
		if binDir, err = os.MkdirTemp("", "ferry-e2e-bin-"); err != nil {
			return nil, err
		}
		bin = filepath.Join(binDir, "ferry-apiserver")
		start := time.Now()
		build := exec.Command("go", "build", "-o", bin, "./cmd/ferry-apiserver")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			os.RemoveAll(binDir)
			return nil, fmt.Errorf("go build ./cmd/ferry-apiserver: %v\n%s", err, out)
		}
		fmt.Fprintf(os.Stderr, "e2e: built ferry-apiserver in %s\n", time.Since(start).Round(time.Millisecond))
	}
	start := time.Now()
	// Unless kept, the stack stops by itself should this process die without its teardown (a
	// test binary timeout panics past it).
	ls, err := localstack.Start(localstack.Options{FerryBin: bin, FerryArgs: ferryArgs, Keep: os.Getenv("FERRY_E2E_KEEP") == "1"})
	if err != nil {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "e2e: local stack up in %s (FERRY_DEV_DIR=%s)\n", time.Since(start).Round(time.Millisecond), ls.Dir)
	return &Stack{Stack: ls, Kubectl: ls.Kubectl(), binDir: binDir}, nil
}

// down stops the stack and deletes its directory, or with keep leaves it running.
func (s *Stack) down(keep bool) {
	if keep {
		fmt.Fprintf(os.Stderr, "e2e: FERRY_E2E_KEEP=1: the stack is still running.\n"+
			"  export KUBECONFIG=%s/kubeconfig; alias kubectl=%s\n"+
			"  stop it with: FERRY_DEV_DIR=%s %s/hack/local-down.sh --purge\n",
			s.Dir, s.Env["KUBECTL"], s.Dir, s.RepoRoot)
		return
	}
	s.Stop()
	if s.binDir != "" {
		os.RemoveAll(s.binDir)
	}
}

// script runs one of the repository's scripts with extra environment variables.
func (s *Stack) script(timeout time.Duration, out io.Writer, env []string, name string, args ...string) error {
	printed, err := s.Script(timeout, env, name, args...)
	_, _ = io.WriteString(out, printed)
	return err
}

func tailFile(path string, n int) string { return localstack.TailFile(path, n) }

// requireStack skips the test when the stack is not running (-short) and returns it.
func requireStack(t *testing.T) *Stack {
	t.Helper()
	if stack == nil {
		t.Skip(skipReason)
	}
	return stack
}

// ---------------------------------------------------------------------------------------------
// kubectl

// Admin is the user in system:masters. The test users viewer, editor, nobody and other start with
// no permissions at all.
const Admin = "admin"

// Result is one kubectl run.
type Result struct {
	Args           []string
	User           string
	Stdout, Stderr string
	Err            error
}

// ExitCode is kubectl's exit status, or -1 when it did not run to completion.
func (r Result) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(r.Err, &ee) {
		return ee.ExitCode()
	}
	if r.Err != nil {
		return -1
	}
	return 0
}

func (r Result) String() string {
	return fmt.Sprintf("kubectl %s (as %s): exit %d\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.Args, " "), r.User, r.ExitCode(), r.Stdout, r.Stderr)
}

func (s *Stack) kubeconfig(user string) string {
	if user == Admin {
		return filepath.Join(s.Dir, "kubeconfig")
	}
	return filepath.Join(s.Dir, "kubeconfig-"+user)
}

func (s *Stack) kubectlCmd(ctx context.Context, user string, args ...string) *exec.Cmd {
	full := append([]string{"--kubeconfig", s.kubeconfig(user), "--cache-dir", filepath.Join(s.Dir, ".kube-cache-e2e")}, args...)
	cmd := exec.CommandContext(ctx, s.Kubectl, full...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=") // only --kubeconfig counts
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Run runs kubectl as user with stdin (may be empty), within one minute.
func (s *Stack) Run(user, stdin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := s.kubectlCmd(ctx, user, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return Result{Args: args, User: user, Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// kubectl runs kubectl as admin and fails the test when it fails.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	return kubectlAs(t, Admin, args...)
}

// kubectlAs runs kubectl as user and fails the test when it fails.
func kubectlAs(t *testing.T, user string, args ...string) string {
	t.Helper()
	r := requireStack(t).Run(user, "", args...)
	if r.Err != nil {
		t.Fatalf("%s", r)
	}
	return r.Stdout
}

// kubectlStdin runs kubectl as user with stdin and fails the test when it fails.
func kubectlStdin(t *testing.T, user, stdin string, args ...string) string {
	t.Helper()
	r := requireStack(t).Run(user, stdin, args...)
	if r.Err != nil {
		t.Fatalf("%s\nstdin:\n%s", r, stdin)
	}
	return r.Stdout
}

// kubectlFails runs kubectl as user and fails the test unless kubectl fails; it returns stderr.
func kubectlFails(t *testing.T, user, stdin string, args ...string) Result {
	t.Helper()
	r := requireStack(t).Run(user, stdin, args...)
	if r.Err == nil {
		t.Fatalf("expected kubectl to fail, it succeeded: %s\nstdin:\n%s", r, stdin)
	}
	if r.ExitCode() < 0 {
		t.Fatalf("kubectl did not run: %s", r)
	}
	return r
}

// watchLines starts a long-running kubectl (such as get -w) as user; lines of its stdout arrive
// on the channel, which is closed when kubectl exits. The process is killed at test cleanup.
func watchLines(t *testing.T, user string, args ...string) <-chan string {
	t.Helper()
	s := requireStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := s.kubectlCmd(ctx, user, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("kubectl %s stderr:\n%s", strings.Join(args, " "), stderr.String())
		}
	})
	return lines
}

// waitForLine reads lines until one satisfies match, failing the test after timeout.
func waitForLine(t *testing.T, lines <-chan string, timeout time.Duration, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("kubectl exited before printing %s; it printed:\n%s", what, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if match(line) {
				return line
			}
		case <-deadline:
			t.Fatalf("no line with %s within %s; kubectl printed:\n%s", what, timeout, strings.Join(seen, "\n"))
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Clients, namespaces, objects

// restConfig is the client configuration of user, authenticated by its bearer token.
func (s *Stack) restConfig(user string) *rest.Config {
	return &rest.Config{
		Host:            "https://127.0.0.1:" + s.Env["KUBE_PORT"],
		BearerToken:     s.Token(user),
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(s.Dir, "pki", "ca.crt")},
		UserAgent:       "ferry-e2e/" + user,
		Timeout:         30 * time.Second,
	}
}

// ferryClient is the typed Ferry clientset acting as user.
func ferryClient(t *testing.T, user string) versioned.Interface {
	t.Helper()
	c, err := versioned.NewForConfig(requireStack(t).restConfig(user))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newNamespace creates a namespace for one test and deletes it (without waiting) at cleanup. Its
// default ServiceAccount, which Applications there act as unless they name another, is bound to
// cluster-admin: the tests of everything but tenancy deploy where they like, as a platform
// team's deployer would. Tenancy tests use newTenantNamespace.
func newNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := newTenantNamespace(t, prefix)
	binding := "e2e-deployer-" + ns
	kubectl(t, "create", "clusterrolebinding", binding, "--clusterrole=cluster-admin", "--serviceaccount="+ns+":default")
	t.Cleanup(func() { stack.Run(Admin, "", "delete", "clusterrolebinding", binding, "--ignore-not-found") })
	return ns
}

// newTenantNamespace creates a namespace whose ServiceAccounts have no permission until a test
// grants one, and deletes it (without waiting) at cleanup.
func newTenantNamespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("e2e-%s-%05d", prefix, rand.IntN(100000))
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		if os.Getenv("FERRY_E2E_KEEP") == "1" {
			return
		}
		stack.Run(Admin, "", "delete", "namespace", ns, "--wait=false")
	})
	return ns
}

// appManifest is an Application as JSON (which kubectl reads as YAML), a copy of the example
// application in namespace ns with name name; edits change it first, keyed by dotted paths of
// spec ("source.path"); a nil value deletes the field.
func appManifest(ns, name string, edits map[string]any) string {
	spec := map[string]any{
		"source": map[string]any{
			"repoURL":  "https://github.com/ferry-gitops/examples.git",
			"revision": "main",
			"path":     "guestbook",
		},
		"destination": map[string]any{"namespace": "guestbook"},
		"syncPolicy": map[string]any{
			"automated": map[string]any{"prune": true, "selfHeal": true},
		},
	}
	// Sets first, then removals, each in sorted order: the manifest never depends on the map's
	// iteration order, and {"source": nil} removes a source an earlier edit filled in.
	paths := make([]string, 0, len(edits))
	for path := range edits {
		paths = append(paths, path)
	}
	sort.SliceStable(paths, func(i, j int) bool {
		if (edits[paths[i]] == nil) != (edits[paths[j]] == nil) {
			return edits[paths[j]] == nil
		}
		return paths[i] < paths[j]
	})
	for _, path := range paths {
		v := edits[path]
		keys := strings.Split(path, ".")
		m := spec
		for _, k := range keys[:len(keys)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		if v == nil {
			delete(m, keys[len(keys)-1])
		} else {
			m[keys[len(keys)-1]] = v
		}
	}
	obj := map[string]any{
		"apiVersion": "gitops.ferry.dev/v1alpha1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       spec,
	}
	data, err := json.MarshalIndent(obj, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(data)
}

// eventually polls cond every 200 ms until it reports true, failing the test after timeout with
// cond's last explanation.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	polling.Until(t, timeout, 200*time.Millisecond, what, cond)
}

// apiServiceAvailable reports the APIService's Available condition.
func apiServiceAvailable(s *Stack) (bool, string) {
	r := s.Run(Admin, "", "get", "apiservice", "v1alpha1.gitops.ferry.dev", "-o",
		`jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].reason}: {.status.conditions[?(@.type=="Available")].message}`)
	if r.Err != nil {
		return false, r.String()
	}
	return strings.HasPrefix(r.Stdout, "True"), r.Stdout
}

// pidAlive reports whether pid runs (and is not a zombie).
func pidAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 {
		return stat[i+2] != 'Z'
	}
	return true
}

// normalizeSpace collapses runs of white space, so text wrapped by kubectl can be matched.
func normalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
