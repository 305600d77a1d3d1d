package release

import (
	"strings"
	"testing"
)

// TestOnlyReleaseVersionsAreAccepted: the version becomes the Helm chart's SemVer, so what
// `git describe` gives between tags, or a bare commit, is refused with what to do instead.
func TestOnlyReleaseVersionsAreAccepted(t *testing.T) {
	for v, ok := range map[string]bool{
		"v0.3.0": true, "v1.12.0-rc.1": true, "v0.3.0-12-gabcdef0": true,
		"0.3.0": false, "v0.3": false, "abcdef0": false, "v0.3.0-dirty+x": false, "v01.2.3": false, "": false,
	} {
		err := CheckVersion(v)
		if (err == nil) != ok {
			t.Errorf("CheckVersion(%q) = %v", v, err)
		}
		if err != nil && !strings.Contains(err.Error(), "VERSION=v") {
			t.Errorf("CheckVersion(%q): the error %q does not say what to give", v, err)
		}
	}
}
