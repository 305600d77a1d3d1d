package plugin

import (
	"strings"
	"testing"
)

// TestInstallRefusesAPlaintextEtcd: kubectl ferry install --etcd-servers=http://... is refused
// before anything is made or applied, with the flag named and what to give instead.
func TestInstallRefusesAPlaintextEtcd(t *testing.T) {
	for _, args := range [][]string{
		{"install", "--version", "v1", "--etcd-servers", "http://etcd-0.etcd:2379"},
		{"install", "--version", "v1", "--export", "--etcd-servers", "https://etcd-0.etcd:2379,http://etcd-1.etcd:2379"},
	} {
		h := newHarness(t)
		if code := h.run(args...); code != ExitCodeError {
			t.Errorf("kubectl ferry %s: exit %d, want %d", strings.Join(args, " "), code, ExitCodeError)
		}
		for _, want := range []string{"--etcd-servers", "is plaintext", "https://", "--etcd-ca-file", "--etcd-cert-file", "--etcd-key-file"} {
			if !strings.Contains(h.err.String(), want) {
				t.Errorf("kubectl ferry %s: stderr %q does not say %q", strings.Join(args, " "), h.err, want)
			}
		}
		if h.out.Len() > 0 {
			t.Errorf("kubectl ferry %s printed manifests or steps for a plaintext etcd:\n%s", strings.Join(args, " "), h.out)
		}
	}
}
