package localstack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// components in start order.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "pod-log-writer", "kwok", "ferry-apiserver"}

// stopOrder is the order Stop signals them in. The Node's kubelet (and the writer of its Pods'
// log) and the scheduler go first, then
// kube-controller-manager: its garbage collector and quota informers hold watches on applications
// through the aggregator, and ferry-apiserver does not exit on SIGTERM until its open watches end
// (or its shutdown timeout).
var stopOrder = []string{"kwok", "pod-log-writer", "kube-scheduler", "kube-controller-manager", "ferry-apiserver", "kube-apiserver", "etcd"}

// stopGrace is how long a component has between SIGTERM and SIGKILL.
const stopGrace = 15 * time.Second

// startProcess runs a component in its own session, so neither the end of the command that
// started it nor a closed terminal stops it, with its output in logs/NAME.log (the previous one
// kept as NAME.log.prev) and its pid in pids/NAME.pid. With withParent it gets SIGTERM when the
// process that started it dies, so a test binary that is killed leaves nothing running.
func (l Layout) startProcess(name string, withParent bool, env []string, argv ...string) (*process, error) {
	logPath := l.Log(name)
	if _, err := os.Stat(logPath); err == nil {
		_ = os.Rename(logPath, logPath+".prev")
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "# %s started by Ferry's local stack:\n# %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "))
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if withParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
	}
	if err := startFromSpawner(cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	// Reap it when it exits, so it does not linger as a zombie of this process, and keep how it
	// ended for the error that reports it.
	p := &process{exited: make(chan struct{}), withParent: withParent, env: env, argv: argv}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := os.WriteFile(l.pidFile(name), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// process is a component started by this process.
type process struct {
	exited chan struct{}
	err    error // how it ended, once exited is closed
	// how it was started, to start it again
	withParent bool
	env, argv  []string
	// restarted: it was started once more already.
	restarted bool
}

// killedSilently reports whether the process was killed by a signal before it wrote a line
// (its log holds only the header startProcess wrote).
func (p *process) killedSilently(logPath string) bool {
	if p == nil || p.ending() == "" {
		return false
	}
	var exit *exec.ExitError
	if !errors.As(p.err, &exit) {
		return false
	}
	if status, ok := exit.Sys().(syscall.WaitStatus); !ok || !status.Signaled() {
		return false
	}
	data, err := os.ReadFile(logPath)
	return err == nil && bytes.Count(data, []byte("\n")) <= 2
}

// ending says how the process ended, or "" while it runs.
func (p *process) ending() string {
	if p == nil {
		return ""
	}
	select {
	case <-p.exited:
		if p.err == nil {
			return "exit status 0"
		}
		return p.err.Error()
	default:
		return ""
	}
}

// pid is the recorded process id of a component that is running and really is this stack's.
func (l Layout) pid(name string) (int, bool) {
	pid, err := l.running(name)
	return pid, err == nil
}

// running is the recorded process id of a running component, or why there is none: its command
// line must name the stack's directory (every component gets a path inside it), so a recycled
// pid is never taken for it, and it must not be a zombie.
func (l Layout) running(name string) (int, error) {
	data, err := os.ReadFile(l.pidFile(name))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s holds no process id", l.pidFile(name))
	}
	return pid, l.ownsErr(pid)
}

func (l Layout) owns(pid int) bool { return l.ownsErr(pid) == nil }

func (l Layout) ownsErr(pid int) error {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return fmt.Errorf("process %d is gone", pid)
	}
	// The state follows the command name in parentheses, which may itself hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || len(stat) < i+3 || stat[i+2] == 'Z' {
		return fmt.Errorf("process %d has exited", pid)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return fmt.Errorf("process %d is gone", pid)
	}
	if !bytes.Contains(cmdline, []byte(l.Dir+"/")) {
		return fmt.Errorf("process %d is not part of the stack in %s (%.80q)", pid, l.Dir, cmdline)
	}
	return nil
}

// stopProcess sends SIGTERM, then SIGKILL after stopGrace, and waits until the process is gone.
func (l Layout) stopProcess(name string, logf func(string, ...any)) error {
	pid, ok := l.pid(name)
	if !ok {
		_ = os.Remove(l.pidFile(name))
		return nil
	}
	logf("stopping %s (pid %d)", name, pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	if !l.gone(pid, stopGrace) {
		logf("%s did not stop within %s; killing it", name, stopGrace)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		if !l.gone(pid, 5*time.Second) {
			return fmt.Errorf("%s (pid %d) survives SIGKILL", name, pid)
		}
	}
	return os.Remove(l.pidFile(name))
}

// gone waits up to timeout for the process to end, and reports whether it did.
func (l Layout) gone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for l.owns(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// Down stops every component of the stack in dir, and with purge deletes dir. It only deletes a
// directory the local stack made (it holds the .ferry-dev marker).
func Down(dir string, purge bool, logf func(string, ...any)) error {
	l := Layout{Dir: dir}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		logf("nothing to stop: %s does not exist", dir)
		return nil
	}
	var errs []error
	// A second cluster make dev-up started inside this stack's directory goes first.
	if second := filepath.Join(dir, SecondClusterDir); fileExists(filepath.Join(second, markerFile)) {
		if err := Down(second, false, logf); err != nil {
			errs = append(errs, err)
		}
	}
	stopped := 0
	for _, name := range stopOrder {
		if _, ok := l.pid(name); ok {
			stopped++
		}
		if err := l.stopProcess(name, logf); err != nil {
			errs = append(errs, err)
		}
	}
	if stopped == 0 {
		logf("nothing was running in %s", dir)
	}
	if purge && len(errs) == 0 {
		if _, err := os.Stat(filepath.Join(dir, markerFile)); err != nil {
			return fmt.Errorf("not deleting %s: it has no %s marker, so Ferry's local stack did not create it", dir, markerFile)
		}
		logf("deleting %s", dir)
		errs = append(errs, os.RemoveAll(dir))
	}
	return errors.Join(errs...)
}

// The kernel sends Pdeathsig when the thread that forked the child exits, not the process, and
// the Go runtime does end threads (one whose goroutine exits while locked to it). So every
// component is started from one goroutine locked to its own thread for the life of the process:
// a component gets SIGTERM when this process dies, and never earlier.
var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startFromSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawnRequests {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnRequests <- spawnRequest{cmd: cmd, done: done}
	return <-done
}

// SecondClusterDir is where make dev-up keeps its second cluster, inside the stack's directory.
const SecondClusterDir = "staging"

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
