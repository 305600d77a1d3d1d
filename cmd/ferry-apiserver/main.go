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
	// The server renders in confined child processes of its own binary (see package worker).
	worker.RunIfAsked()
	ctx := genericapiserver.SetupSignalContext()
	options := server.NewOptions(os.Stdout, os.Stderr)
	cmd := server.NewCommand(ctx, options)
	os.Exit(cli.Run(cmd))
}
