package server

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// validateFlags parses args into fresh options and returns Validate's error.
func validateFlags(t *testing.T, args ...string) error {
	t.Helper()
	o := NewOptions(io.Discard, io.Discard)
	fs := pflag.NewFlagSet("ferry-apiserver", pflag.ContinueOnError)
	o.RecommendedOptions.AddFlags(fs)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o.Validate()
}

// TestAPlaintextEtcdIsRefused: ferry-apiserver does not start on an etcd reached over http://
// (anyone on the path could read and rewrite every Application); the error names the flag and
// says what to give instead. An https:// etcd with a client certificate is accepted.
func TestAPlaintextEtcdIsRefused(t *testing.T) {
	err := validateFlags(t, "--etcd-servers=https://etcd-0:2379,http://etcd-1:2379")
	if err == nil {
		t.Fatal("--etcd-servers with an http:// URL was accepted")
	}
	for _, want := range []string{`--etcd-servers: "http://etcd-1:2379" is not reached over TLS`, "https://", "--etcd-cafile", "--etcd-certfile", "--etcd-keyfile"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "etcd-0") {
		t.Errorf("error %q also blames the https:// member", err)
	}

	err = validateFlags(t, "--etcd-servers=https://etcd-0:2379", "--etcd-cafile=/ca.crt", "--etcd-certfile=/tls.crt", "--etcd-keyfile=/tls.key")
	if err != nil && strings.Contains(err.Error(), "etcd") {
		t.Errorf("an https:// etcd with a client certificate was refused: %v", err)
	}
}
