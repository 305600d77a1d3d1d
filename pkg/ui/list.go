package ui

import (
	"cmp"
	"context"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	gitopsv1alpha1 "github.com/ferry-gitops/ferry/pkg/apis/gitops/v1alpha1"
	gitopsclient "github.com/ferry-gitops/ferry/pkg/generated/clientset/versioned/typed/gitops/v1alpha1"
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

// listChunk is how many Applications the list asks the API for at once. The rows are small;
// an answer of decoded Applications is not: 10,000 of them at once took the UI's heap some
// 230 MiB above its idle size (bench/BENCHMARKS.md, "Web UI"). Asking in chunks and keeping
// only the rows bounds that by one chunk. The chunks are large because the person's client has
// client-go's default rate limit (5 requests a second after a burst of 10): chunks of 500 made
// the first page of 10,000 wait 4 s for it.
const listChunk = 2500

// rowSet gathers the rows of the Applications the API lists, chunk by chunk: those that match
// the filter, and the namespaces and clusters of all of them for the filter's choices.
type rowSet struct {
	now                  time.Time
	filter               filter
	rows                 []row
	namespaces, clusters map[string]bool
	total                int
	resourceVersion      string
}

func newRowSet(now time.Time, f filter) *rowSet {
	return &rowSet{now: now, filter: f, namespaces: map[string]bool{}, clusters: map[string]bool{}}
}

func (s *rowSet) add(items []gitopsv1alpha1.Application) {
	s.total += len(items)
	for i := range items {
		rw := newRow(s.now, &items[i])
		s.namespaces[rw.Namespace], s.clusters[rw.Cluster] = true, true
		if s.filter.match(rw) {
			s.rows = append(s.rows, rw)
		}
	}
}

// list reads every Application opts selects into s, in chunks of one consistent snapshot; the
// snapshot's resourceVersion is where a watch resumes.
func (s *rowSet) list(ctx context.Context, apps gitopsclient.ApplicationInterface, opts metav1.ListOptions) error {
	opts.Limit = listChunk
	for {
		list, err := apps.List(ctx, opts)
		if err != nil {
			return err
		}
		s.add(list.Items)
		s.resourceVersion = list.ResourceVersion
		if opts.Continue = list.Continue; opts.Continue == "" {
			return nil
		}
	}
}

// sorted returns the rows in the order o. It sorts the small rows, not the Applications.
func (s *rowSet) sorted(o order) []row {
	// The API lists in namespace/name order already; this keeps the promise when it does not.
	slices.SortFunc(s.rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	sortRows(s.rows, o)
	return s.rows
}
