// Command ferry-apiserver serves Ferry's GitOps Applications as a Kubernetes aggregated API.
package main

import (
	"os"

	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/component-base/cli"

	"github.com/ferry-gitops/ferry/pkg/cmd/server"
	"github.com/ferry-gitops/ferry/pkg/gitops/render/worker"
)

func main() {
	// The server runs kustomize in child processes of its own binary (see package worker).
	if len(os.Args) > 1 && os.Args[1] == worker.Subcommand {
		os.Exit(worker.Main(os.Args[2:]))
	}
	ctx := genericapiserver.SetupSignalContext()
	options := server.NewOptions(os.Stdout, os.Stderr)
	cmd := server.NewCommand(ctx, options)
	os.Exit(cli.Run(cmd))
}
