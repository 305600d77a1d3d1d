package server

import (
	"strings"
	"testing"
)

// TestEachControllerNeedsAWorker: a controller with no worker would never reconcile anything,
// silently; ferry-apiserver refuses to start with one, naming the flag, and starts with each
// set to 1.
func TestEachControllerNeedsAWorker(t *testing.T) {
	for _, flag := range []string{"--controller-workers", "--applicationset-workers", "--cluster-workers"} {
		err := validateFlags(t, flag+"=0")
		if err == nil || !strings.Contains(err.Error(), flag+" 0: must be at least 1") {
			t.Errorf("%s=0: error %v, want one naming the flag", flag, err)
		}
		if err := validateFlags(t, flag+"=1"); err != nil && strings.Contains(err.Error(), "workers") {
			t.Errorf("%s=1 was refused: %v", flag, err)
		}
	}
}
