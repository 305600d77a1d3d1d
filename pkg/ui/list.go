package ui

import (
	"cmp"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
)

// labelSelector is the filter's label selector as the API takes it, parsed here first so that
// a mistake is shown at once, naming the field, and no request carries it.
func (f filter) labelSelector() (string, error) {
	if f.Selector == "" {
		return "", nil
	}
	sel, err := labels.Parse(f.Selector)
	if err != nil {
		return "", field.Invalid(field.NewPath("selector"), f.Selector, err.Error())
	}
	return sel.String(), nil
}

// listRows turns the Applications the API listed into the rows that match f in the order o, and
// the namespaces and clusters of all of them for the filter's choices. It builds small rows
// first and sorts those, not the Applications: n log n swaps of a row are cheap, of an
// Application are not.
func listRows(now time.Time, items []gitopsv1alpha1.Application, f filter, o order) (rows []row, namespaces, clusters map[string]bool) {
	namespaces, clusters = map[string]bool{}, map[string]bool{}
	rows = make([]row, 0, len(items))
	for i := range items {
		rw := newRow(now, &items[i])
		namespaces[rw.Namespace], clusters[rw.Cluster] = true, true
		if f.match(rw) {
			rows = append(rows, rw)
		}
	}
	// The API lists in namespace/name order already; this keeps the promise when it does not.
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	sortRows(rows, o)
	return rows, namespaces, clusters
}
