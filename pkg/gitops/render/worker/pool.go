package worker

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/klog/v2"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// Options configure a Pool.
type Options struct {
	// Command is the worker's program and arguments before its flags; default: this executable
	// and Subcommand.
	Command []string
	// Workers is how many builds run at once, each in its own process; default: the CPUs.
	Workers int
	// Timeout bounds one build; the worker is stopped when it passes. Default 1m.
	Timeout time.Duration
	// MemoryLimit bounds the memory one worker may use for a build, in bytes. Default 1 GiB.
	MemoryLimit int64
	// TemplateTimeout bounds one ApplicationSet's templates (all its sets of parameters).
	// Default 3s: thousands of Applications take milliseconds, a template looping without end
	// is stopped well before anyone waits for it.
	TemplateTimeout time.Duration
}

// Pool builds kustomizations in worker processes: a render.Builder for render.Options.
type Pool struct {
	opts Options
	// slots holds one entry per worker: a running process, or nil for one not started yet (or
	// stopped after its last build).
	slots chan *process
}

// New returns a pool; workers start on first use.
func New(opts Options) (*Pool, error) {
	if len(opts.Command) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding ferry-apiserver's own executable to run render workers: %w", err)
		}
		opts.Command = []string{self, Subcommand}
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = 1 << 30
	}
	if opts.TemplateTimeout <= 0 {
		opts.TemplateTimeout = 3 * time.Second
	}
	p := &Pool{opts: opts, slots: make(chan *process, opts.Workers)}
	for i := 0; i < opts.Workers; i++ {
		p.slots <- nil
	}
	return p, nil
}

// Close stops every worker, waiting for the busy ones to finish their build. Workers also stop
// by themselves when the server exits, which closes their standard input.
func (p *Pool) Close() {
	for i := 0; i < p.opts.Workers; i++ {
		if proc := <-p.slots; proc != nil {
			proc.stop()
		}
	}
}

// Build builds the kustomization at dir of files in a worker.
func (p *Pool) Build(files []source.File, dir string, opts render.Options) ([]*unstructured.Unstructured, error) {
	opts.Builder = nil
	resp, err := p.run(request{Files: files, Dir: dir, Options: opts}, p.opts.Timeout, 2*opts.WithDefaults().MaxBytes+1<<20)
	switch {
	case errors.Is(err, errDeadline):
		return nil, &render.Error{File: dir, Reason: fmt.Sprintf("kustomize build took longer than %s and was stopped (ferry-apiserver --render-timeout)", p.opts.Timeout)}
	case errors.Is(err, errMemory):
		return nil, &render.Error{File: dir, Reason: fmt.Sprintf("kustomize build needed more than %d MiB of memory and was stopped (ferry-apiserver --render-memory-limit)", p.opts.MemoryLimit>>20)}
	case err != nil:
		return nil, err
	}
	return decode(dir, resp)
}

// maxTemplateResponse bounds the Applications of one set's templates, as JSON.
const maxTemplateResponse = 256 << 20

// Templates makes the Application of each set of parameters from an ApplicationSet's template,
// in a worker: a template that loops without end or writes without bound is stopped at
// TemplateTimeout or the memory limit, and costs this set an error, never the server.
func (p *Pool) Templates(tmpl gitopsv1alpha1.ApplicationSetTemplate, params []generators.Params) ([]*gitopsv1alpha1.Application, error) {
	resp, err := p.run(request{Template: &templateRequest{Template: tmpl, Params: params}}, p.opts.TemplateTimeout, maxTemplateResponse)
	switch {
	case errors.Is(err, errDeadline):
		return nil, fmt.Errorf("spec.template: the template ran longer than %s over %d sets of parameters and was stopped", p.opts.TemplateTimeout, len(params))
	case errors.Is(err, errMemory):
		return nil, fmt.Errorf("spec.template: the template needed more than %d MiB of memory and was stopped (ferry-apiserver --render-memory-limit)", p.opts.MemoryLimit>>20)
	case err != nil:
		return nil, err
	case resp.Reason != "":
		return nil, &generators.ParamsError{Index: resp.ParamsIndex, Err: errors.New(resp.Reason)}
	case len(resp.Applications) != len(params):
		return nil, fmt.Errorf("the render worker made %d Applications of %d sets of parameters", len(resp.Applications), len(params))
	}
	return resp.Applications, nil
}

// errDeadline and errMemory say a worker was stopped at its deadline or ran out of memory.
var (
	errDeadline = errors.New("the worker passed its deadline")
	errMemory   = errors.New("the worker ran out of memory")
)

// run has a worker answer req within timeout, its response at most limit bytes. A worker that
// passes the deadline is stopped (errDeadline), as is one that fails (errMemory, or an error
// whose details go to the log); a new one starts for the next request.
func (p *Pool) run(req request, timeout time.Duration, limit int64) (response, error) {
	proc := <-p.slots
	if proc == nil {
		var err error
		if proc, err = p.start(); err != nil {
			p.slots <- nil
			return response{}, fmt.Errorf("starting a render worker: %w", err)
		}
	}
	type outcome struct {
		resp response
		err  error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		if o.err = writeMessage(proc.stdin, req); o.err == nil {
			o.err = readMessage(proc.stdout, limit, &o.resp)
		}
		done <- o
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case o := <-done:
		if o.err != nil {
			proc.stop()
			p.slots <- nil
			return response{}, p.failed(proc, req.Dir, o.err)
		}
		p.slots <- proc
		return o.resp, nil
	case <-timer.C:
		proc.stop()
		<-done
		p.slots <- nil
		return response{}, errDeadline
	}
}

// failed explains a worker that stopped answering: out of memory, or something unexpected, whose
// details go to the server's log rather than to the Application.
func (p *Pool) failed(proc *process, dir string, err error) error {
	<-proc.exited
	tail := proc.stderr.String()
	if strings.Contains(tail, "out of memory") || strings.Contains(tail, "cannot allocate memory") {
		klog.InfoS("Render worker stopped at its memory limit", "dir", dir, "limitMiB", p.opts.MemoryLimit>>20)
		return errMemory
	}
	klog.ErrorS(err, "Render worker failed", "pid", proc.cmd.Process.Pid, "exit", proc.cmd.ProcessState, "stderr", tail)
	return fmt.Errorf("the render worker stopped unexpectedly (%v); it is restarted for the next render, and the server log has its last words", proc.cmd.ProcessState)
}

func decode(dir string, resp response) ([]*unstructured.Unstructured, error) {
	if resp.File != "" || resp.Reason != "" {
		return nil, &render.Error{File: resp.File, Reason: resp.Reason}
	}
	objs := make([]*unstructured.Unstructured, 0, len(resp.Objects))
	for _, data := range resp.Objects {
		u, err := render.ObjectFromJSON(data)
		if err != nil {
			return nil, &render.Error{File: dir, Reason: fmt.Sprintf("kustomize output: %v", err)}
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// process is one running worker.
type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *lastWords
	// exited is closed once the process has ended and been waited for.
	exited chan struct{}
}

func (p *Pool) start() (*process, error) {
	args := append(append([]string{}, p.opts.Command[1:]...), "--memory-limit="+strconv.FormatInt(p.opts.MemoryLimit, 10))
	cmd := exec.Command(p.opts.Command[0], args...)
	// No environment: no PATH to find git or anything else by, no credentials of the server's.
	cmd.Env = []string{}
	proc := &process{cmd: cmd, stderr: &lastWords{max: 8 << 10}, exited: make(chan struct{})}
	cmd.Stderr = proc.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	proc.stdin, proc.stdout = stdin, bufio.NewReaderSize(stdout, 64<<10)
	go func() {
		_ = cmd.Wait()
		close(proc.exited)
	}()
	return proc, nil
}

// stop ends the worker: at once, since it holds nothing worth a graceful stop.
func (proc *process) stop() {
	_ = proc.cmd.Process.Kill()
	_ = proc.stdin.Close()
}

// lastWords keeps the first and the last bytes written to it: a worker's last words, for the
// log. The first hold a fatal error's reason ("fatal error: runtime: out of memory"), the last
// the end of whatever followed it.
type lastWords struct {
	mu   sync.Mutex
	max  int
	head []byte
	buf  []byte
	// cut says that buf lost its beginning, so head is no longer a part of it.
	cut bool
}

func (t *lastWords) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max/4 - len(t.head); room > 0 {
		t.head = append(t.head, p[:min(room, len(p))]...)
	}
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.cut = true
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *lastWords) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.cut {
		return string(t.buf)
	}
	return string(t.head) + "\n...\n" + string(t.buf)
}
