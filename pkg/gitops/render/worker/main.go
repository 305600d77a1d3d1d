package worker

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
)

// Main runs a render worker: it builds the kustomization of each request read on standard input
// and writes the outcome on standard output, one at a time, until standard input closes (the
// server stopped or gave up on it). It returns the process exit code.
func Main(args []string) int {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	memoryLimit := fs.Int64("memory-limit", 0, "bytes of memory this worker may use beyond what it uses when it starts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *memoryLimit > 0 {
		if err := limitMemory(*memoryLimit); err != nil {
			fmt.Fprintf(os.Stderr, "render worker: %v\n", err)
			return 1
		}
	}
	// From here on the worker has no network, opens no file and starts no program: whatever a
	// render asks for beyond the files it is given fails inside it.
	if err := confine(); err != nil {
		fmt.Fprintf(os.Stderr, "render worker: %v\n", err)
		return 1
	}
	// Standard output carries the protocol; anything kustomize prints goes to standard error.
	out := bufio.NewWriter(os.Stdout)
	os.Stdout = os.Stderr
	in := bufio.NewReader(os.Stdin)
	for {
		var req request
		if err := readMessage(in, maxRequestBytes, &req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintf(os.Stderr, "render worker: reading a request: %v\n", err)
			return 1
		}
		resp := build
		if req.Template != nil {
			resp = renderTemplates
		}
		if err := writeMessage(out, resp(req)); err != nil {
			fmt.Fprintf(os.Stderr, "render worker: writing a response: %v\n", err)
			return 1
		}
		if err := out.Flush(); err != nil {
			fmt.Fprintf(os.Stderr, "render worker: writing a response: %v\n", err)
			return 1
		}
	}
}

// build runs one request; a panic in kustomize is this request's error, and the worker goes on.
func build(req request) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			resp = response{File: req.Dir, Reason: fmt.Sprintf("the render failed unexpectedly: %v", r)}
		}
	}()
	objs, err := render.Build(req.Files, req.Dir, req.Options)
	if err != nil {
		var rerr *render.Error
		if errors.As(err, &rerr) {
			return response{File: rerr.File, Reason: rerr.Reason}
		}
		return response{File: req.Dir, Reason: err.Error()}
	}
	resp.Objects = make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			return response{File: req.Dir, Reason: fmt.Sprintf("kustomize output: %v", err)}
		}
		resp.Objects = append(resp.Objects, data)
	}
	return resp
}

// renderTemplates runs an ApplicationSet's template; a panic is this request's error.
func renderTemplates(req request) (resp response) {
	defer func() {
		if r := recover(); r != nil {
			resp = response{Reason: fmt.Sprintf("the template failed unexpectedly: %v", r)}
		}
	}()
	apps, err := generators.RenderAll(req.Template.Template, req.Template.Params)
	if err != nil {
		var perr *generators.ParamsError
		if errors.As(err, &perr) {
			return response{ParamsIndex: perr.Index, Reason: perr.Err.Error()}
		}
		return response{Reason: err.Error()}
	}
	return response{Applications: apps}
}

// limitMemory caps the worker's address space at what it has reserved now plus limit, so that
// a render allocating without bound makes the Go runtime fail ("out of memory") and the worker
// exit, instead of the kernel's OOM killer choosing a victim on the machine. The soft limit makes
// the garbage collector work harder before that point.
func limitMemory(limit int64) error {
	base, err := addressSpace()
	if err != nil {
		return err
	}
	debug.SetMemoryLimit(limit * 3 / 4)
	max := uint64(base + limit)
	return syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: max, Max: max})
}

// addressSpace is this process's virtual memory size in bytes.
func addressSpace() (int64, error) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("reading the process size: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) == 0 {
		return 0, fmt.Errorf("reading the process size: empty /proc/self/statm")
	}
	pages, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading the process size: %w", err)
	}
	return pages * int64(os.Getpagesize()), nil
}
