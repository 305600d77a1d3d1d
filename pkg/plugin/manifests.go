package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

func newManifestsCommand(o *Options) *cobra.Command {
	var revision, output string
	cmd := &cobra.Command{
		Use:   "manifests APP [--revision R] [-o json|yaml]",
		Short: "Print the objects an Application renders to, as Ferry would apply them",
		Long: `Print the objects the Application's path renders to at a revision, as Ferry would apply them:
namespaces defaulted and Ferry's tracking metadata set (GET applications/APP/manifests,
permission "get applications/manifests", granted by the ferry-view ClusterRole). --revision
renders a branch, tag or commit other than the Application's spec.source.revision.

The output is a multi-document YAML stream whose first line is a "# revision <commit SHA>"
comment. It is for reading, not for kubectl apply: the values of Secrets are masked.
-o json|yaml prints the ApplicationManifests object instead.`,
		Example: `  kubectl ferry manifests guestbook
  kubectl ferry manifests guestbook --revision v1.2.0
  kubectl ferry manifests guestbook -o json`,
		Args:              oneApp,
		ValidArgsFunction: o.completeApps,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkOutput(c, output); err != nil {
				return err
			}
			return o.manifests(c.Context(), args[0], revision, output)
		},
	}
	cmd.Flags().StringVar(&revision, "revision", "", "Branch, tag or full commit SHA to render (default: the Application's spec.source.revision)")
	addOutputFlag(cmd, &output)
	return cmd
}

func (o *Options) manifests(ctx context.Context, name, revision, output string) error {
	client, ns, err := o.client()
	if err != nil {
		return err
	}
	m, err := client.GitopsV1alpha1().Applications(ns).Manifests(ctx, name, gitopsv1alpha1.ApplicationManifestsOptions{Revision: revision})
	if err != nil {
		return apiError(err, request{verb: "get", subresource: "manifests", namespace: ns, name: name, revision: revision})
	}
	if output != "" {
		m.APIVersion = gitopsv1alpha1.SchemeGroupVersion.String()
		m.Kind = "ApplicationManifests"
		m.ManagedFields = nil
		return printObject(o.Out, output, m)
	}
	if err := writeManifests(o.Out, m); err != nil {
		return err
	}
	if len(m.Objects) == 0 {
		fmt.Fprintf(o.ErrOut, "Application %s in namespace %s renders no objects at %s.\n", name, ns, orDash(shortSHA(m.Revision)))
	}
	return nil
}

// maskedNote follows the revision comment when a Secret is among the objects.
const maskedNote = "# Secret values are masked: this output is for reading, not for kubectl apply."

// writeManifests prints the objects as a YAML stream: a "# revision" comment (and a note when
// Secrets are masked), then one document per object, separated by "---".
func writeManifests(w io.Writer, m *gitopsv1alpha1.ApplicationManifests) error {
	docs := make([][]byte, 0, len(m.Objects))
	secrets := false
	for i, obj := range m.Objects {
		raw := obj.Raw
		if len(raw) == 0 && obj.Object != nil {
			var err error
			if raw, err = json.Marshal(obj.Object); err != nil {
				return &ExitError{Code: ExitCodeError, Msg: fmt.Sprintf("cannot print object %d: %v", i+1, err)}
			}
		}
		var typeMeta struct{ APIVersion, Kind string }
		if err := json.Unmarshal(raw, &typeMeta); err == nil && typeMeta.APIVersion == "v1" && typeMeta.Kind == "Secret" {
			secrets = true
		}
		doc, err := yaml.JSONToYAML(raw)
		if err != nil {
			return &ExitError{Code: ExitCodeError, Msg: fmt.Sprintf("cannot print object %d as YAML: %v", i+1, err)}
		}
		docs = append(docs, doc)
	}
	out := []byte("# revision " + orDash(m.Revision) + "\n")
	if secrets {
		out = append(out, maskedNote+"\n"...)
	}
	for i, doc := range docs {
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, doc...)
	}
	_, err := w.Write(out)
	return err
}
