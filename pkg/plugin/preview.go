package plugin

import (
	"context"
	"errors"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func newPreviewCommand(o *Options) *cobra.Command {
	var revision, repo, output string
	var asServiceAccount bool
	var sourceIndex int32
	cmd := &cobra.Command{
		Use:   "preview APP --revision REV [--repo URL] [--as-service-account] [-o json|yaml]",
		Short: "Show what an Application would change at another revision, such as a pull request's branch",
		Long: `Preview an Application at a branch, tag, commit or ref (refs/pull/123/head) without changing
anything: Ferry renders it there, runs a server-side apply dry run and compares the result with
the live objects (POST of an ApplicationPreview, which is stored nowhere; permissions "create
applicationpreviews" and "get" on the Application, both granted by the ferry-edit ClusterRole).

The comparison runs as you, with your own permissions in the cluster. --as-service-account runs
it as the Application's ServiceAccount instead, if you may impersonate it. --repo renders a fork
of the Application's repository (for spec.sources, --source-index says which source it
replaces); the Application's repository credentials are never sent to another URL, so a fork is
read anonymously.

Every object a sync would create (+), update (~) or delete with --prune (-) is printed with a
unified diff of its YAML, as kubectl ferry diff prints it. Secret values are masked. -o json|yaml
prints the ApplicationPreview with the rendered objects.

Exit codes, as for kubectl diff: 0 when a sync would change nothing; 1 when it would change
something; 2 on any error.`,
		Example: `  kubectl ferry preview guestbook --revision pr-123
  kubectl ferry preview guestbook --revision refs/pull/123/head
  kubectl ferry preview guestbook --revision feature --repo https://github.com/someone/guestbook.git
  kubectl ferry preview guestbook --revision main --as-service-account -o yaml`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			if revision == "" {
				return usageError(c, "--revision is required: the branch, tag, commit or ref to preview")
			}
			spec := gitopsv1alpha1.ApplicationPreviewSpec{Application: args[0], Revision: revision, RepoURL: repo, AsServiceAccount: asServiceAccount}
			if c.Flags().Changed("source-index") {
				spec.SourceIndex = &sourceIndex
			}
			return o.preview(c.Context(), spec, output)
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "", "Branch, tag, full commit SHA or ref (refs/pull/123/head) to preview (required)")
	cmd.Flags().StringVar(&repo, "repo", "", "Render a fork at this URL instead of the Application's repository (read without the Application's credentials)")
	cmd.Flags().Int32Var(&sourceIndex, "source-index", 0, "With --repo and spec.sources: the index of the source the fork replaces")
	cmd.Flags().BoolVar(&asServiceAccount, "as-service-account", false, "Compare as the Application's ServiceAccount instead of as you (needs impersonate on it)")
	addOutputFlag(cmd, &output)
	return cmd
}

func (o *Options) preview(ctx context.Context, spec gitopsv1alpha1.ApplicationPreviewSpec, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	p, err := client.GitopsV1alpha1().ApplicationPreviews(ns).Create(ctx, &gitopsv1alpha1.ApplicationPreview{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		refused := apierrors.IsForbidden(err)
		err = apiError(err, request{resource: "applicationpreviews", verb: "create", namespace: ns, name: spec.Application, revision: spec.Revision})
		var exit *ExitError
		if refused && errors.As(err, &exit) {
			// The refusal may be of either right a preview needs; the server's message says which.
			exit.Hint = "A preview needs \"create applicationpreviews\" and \"get\" on Application " + spec.Application + " in namespace " + ns +
				" (the ferry-edit ClusterRole grants both); check with: kubectl auth can-i get applications." + apiGroup + "/" + spec.Application + " -n " + ns
		}
		return err
	}
	if output != "" {
		p.APIVersion = gitopsv1alpha1.SchemeGroupVersion.String()
		p.Kind = "ApplicationPreview"
		p.ManagedFields = nil
		if err := printObject(o.Out, output, p); err != nil {
			return err
		}
	} else {
		writeDiff(o.Out, o.Color, spec.Application, diffOf(p))
	}
	if changes(diffOf(p)) > 0 {
		return errDiffers
	}
	return nil
}

// diffOf is the preview's comparison in the shape kubectl ferry diff prints.
func diffOf(p *gitopsv1alpha1.ApplicationPreview) *gitopsv1alpha1.ApplicationDiff {
	return &gitopsv1alpha1.ApplicationDiff{Revision: p.Status.Revision, Summary: p.Status.Diff.Summary, Items: p.Status.Diff.Items}
}
