package applicationpreview

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/ferry-gitops/ferry/pkg/apis/gitops"
	"github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	"github.com/ferry-gitops/ferry/pkg/registry/gitops/printing"
)

var columnDefinitions = []metav1.TableColumnDefinition{
	{Name: "Application", Type: "string", Description: "The Application previewed (spec.application)."},
	{Name: "Revision", Type: "string", Description: "The revision asked for (spec.revision)."},
	{Name: "Commit", Type: "string", Description: "The commit it resolved to (status.revision)."},
	{Name: "Create", Type: "integer", Description: "Objects a sync would create."},
	{Name: "Update", Type: "integer", Description: "Objects a sync would change."},
	{Name: "Delete", Type: "integer", Description: "Objects a pruning sync would delete."},
	{Name: "Unchanged", Type: "integer", Description: "Objects already as the revision has them."},
	{Name: "Repo", Type: "string", Priority: 1, Description: "The fork rendered instead of the Application's repository (spec.repoURL)."},
	{Name: "Compared As", Type: "string", Priority: 1, Description: "The user the comparison ran as (status.comparedAs)."},
}

// ConvertToTable prints the answer of `kubectl create -f preview.yaml -o wide`.
func (r *REST) ConvertToTable(_ context.Context, obj runtime.Object, _ runtime.Object) (*metav1.Table, error) {
	return printing.Table(obj, columnDefinitions, resource, func(o runtime.Object) ([]interface{}, bool) {
		p, ok := o.(*gitops.ApplicationPreview)
		if !ok {
			return nil, false
		}
		s := p.Status.Diff.Summary
		return []interface{}{p.Spec.Application, p.Spec.Revision, v1alpha1.ShortRevision(p.Status.Revision),
			s.Create, s.Update, s.Delete, s.None, p.Spec.RepoURL, p.Status.ComparedAs}, true
	})
}
