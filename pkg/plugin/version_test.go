package plugin

import (
	"encoding/json"
	goruntime "runtime"
	"strings"
	"testing"
)

// TestVersion: kubectl ferry version names the binary and the Go toolchain, and -o json is the
// same information as an object.
func TestVersion(t *testing.T) {
	h := newHarness(t)
	h.mustRun(0, "version")
	if out := h.out.String(); !strings.HasPrefix(out, "kubectl-ferry ") || !strings.Contains(out, goruntime.Version()) {
		t.Errorf("kubectl ferry version printed %q", out)
	}
	h.mustRun(0, "version", "-o", "json")
	var info struct{ Version, GoVersion, Platform string }
	if err := json.Unmarshal(h.out.Bytes(), &info); err != nil || info.Version == "" || info.GoVersion != goruntime.Version() || info.Platform != goruntime.GOOS+"/"+goruntime.GOARCH {
		t.Errorf("kubectl ferry version -o json printed %s (%v)", h.out, err)
	}
	h.mustRun(2, "version", "extra")
}
