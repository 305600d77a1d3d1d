package plugin

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferry-gitops/ferry/pkg/version"
)

func newVersionCommand(o *Options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version [-o json|yaml]",
		Short: "Print the version and commit kubectl-ferry was built from",
		Long: `Print the version and commit kubectl-ferry was built from, stamped by make release (else
what the Go toolchain recorded). ferry-apiserver --version prints the server's.`,
		Example: `  kubectl ferry version
  kubectl ferry version -o json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			info := version.Get()
			if output != "" {
				return printObject(o.Out, output, info)
			}
			_, err := fmt.Fprintln(o.Out, "kubectl-ferry", info)
			return err
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
