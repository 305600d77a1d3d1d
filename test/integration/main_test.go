package integration

import (
	"os"
	"testing"

	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
)

// TestMain lets the test binary be the render worker of the server it runs in process.
func TestMain(m *testing.M) {
	worker.RunIfAsked()
	os.Exit(m.Run())
}
