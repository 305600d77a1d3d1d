// Command kubectl-ferry is the kubectl plugin for Ferry's GitOps Applications. Installed on the
// PATH (go install ./cmd/kubectl-ferry, or make install), kubectl runs it as `kubectl ferry`:
//
//	kubectl ferry list [-A]
//	kubectl ferry status APP
//	kubectl ferry sync APP [--revision R] [--prune] [--dry-run] [--wait [--timeout 5m]]
//	kubectl ferry health APP
//	kubectl ferry history APP
//	kubectl ferry diff APP [--revision R]
//	kubectl ferry manifests APP [--revision R]
//	kubectl ferry ui [--port P] [--no-browser]   (a web UI on 127.0.0.1, acting as you)
//
// `kubectl ferry --help` describes the commands, their flags and the exit codes.
package main

import (
	"os"

	"github.com/ferry-gitops/ferry/pkg/plugin"
)

func main() {
	os.Exit(plugin.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
