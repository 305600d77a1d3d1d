// Package worker builds kustomizations in supervised child processes of ferry-apiserver, so that
// a repository whose render exhausts memory or time costs one stopped process and a clear
// condition, never the API server. Each worker is the server's own binary started as
// `ferry-apiserver render-worker`, with an empty environment (nothing to execute by name, no
// credentials inherited), a hard address-space limit, and one build at a time; the pool keeps as
// many as there are CPUs, so one slow render holds one worker, not every other Application's.
package worker

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/gitops/generators"
	"github.com/ferry-gitops/ferry/pkg/gitops/render"
	"github.com/ferry-gitops/ferry/pkg/gitops/source"
)

// Subcommand is the first argument that makes ferry-apiserver a render worker.
const Subcommand = "render-worker"

// request is one build: the staged files and the options RenderTree checked them with; or,
// when Template is set, an ApplicationSet's template over its sets of parameters.
type request struct {
	Files    []source.File
	Dir      string
	Options  render.Options
	Template *templateRequest `json:",omitempty"`
}

// templateRequest is an ApplicationSet's template and the parameters its generators made.
type templateRequest struct {
	Template gitopsv1alpha1.ApplicationSetTemplate
	Params   []generators.Params
}

// response is a build's outcome: the objects as JSON, or the error.
type response struct {
	Objects []json.RawMessage `json:",omitempty"`
	// Applications are the template's, one per set of parameters.
	Applications []*gitopsv1alpha1.Application `json:",omitempty"`
	// ParamsIndex is the set of parameters a template failed for.
	ParamsIndex int `json:",omitempty"`
	// Error is a render.Error (file and reason) when File or Reason is set.
	File   string `json:",omitempty"`
	Reason string `json:",omitempty"`
}

// maxRequestBytes bounds what a worker accepts; RenderTree's tree reader bounds the files a
// render reads well below it.
const maxRequestBytes = 1 << 30

// writeMessage writes v as JSON after its length.
func writeMessage(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var size [4]byte
	binary.BigEndian.PutUint32(size[:], uint32(len(data)))
	if _, err := w.Write(size[:]); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// readMessage reads one message of at most limit bytes into v.
func readMessage(r io.Reader, limit int64, v any) error {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint32(size[:]))
	if n > limit {
		return fmt.Errorf("message of %d bytes, over the limit of %d", n, limit)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// RunIfAsked makes the calling program a render worker when its first argument is Subcommand,
// and exits with the worker's code; otherwise it returns. ferry-apiserver's main calls it, and so
// do the TestMain of packages that run the server in their test binary, which then serves as
// its own render worker.
func RunIfAsked() {
	if len(os.Args) > 1 && os.Args[1] == Subcommand {
		os.Exit(Main(os.Args[2:]))
	}
}
