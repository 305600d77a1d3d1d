package apiserver

import (
	"os"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
	"github.com/ferry-gitops/ferry/pkg/testing/localstack"
)

var stack *localstack.Stack

// The in-process server reconciles into, and renders with the REST mapper of, a real
// kube-apiserver (without Ferry).
func TestMain(m *testing.M) {
	worker.RunIfAsked() // the in-process server's render workers are this binary
	os.Exit(localstack.Main(m, localstack.Options{}, &stack))
}
