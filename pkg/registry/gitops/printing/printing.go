// Package printing holds what the server-side table printers of Ferry's resources share.
package printing

import (
	"fmt"
	"net/http"

	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

// Age prints the time since t as kubectl does ("5m", "2d3h").
func Age(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(metav1.Now().Sub(t.Time))
}

// Truncate bounds s to n runes, marking a cut with an ellipsis.
func Truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// OrUnknown prints an empty status as "Unknown".
func OrUnknown(s string) string {
	if s == "" {
		return "Unknown"
	}
	return s
}

// Table prints obj — one object, or a list of them — for `kubectl get`, one row per object with
// the cells cells gives; ok false from cells means an object of another kind, a server error.
func Table(obj runtime.Object, columns []metav1.TableColumnDefinition, resource schema.GroupResource, cells func(runtime.Object) ([]interface{}, bool)) (*metav1.Table, error) {
	table := &metav1.Table{ColumnDefinitions: columns}
	items := []runtime.Object{obj}
	if meta.IsListType(obj) {
		if m, err := meta.ListAccessor(obj); err == nil {
			table.ResourceVersion = m.GetResourceVersion()
			table.Continue = m.GetContinue()
			table.RemainingItemCount = m.GetRemainingItemCount()
		}
		var err error
		if items, err = meta.ExtractList(obj); err != nil {
			return nil, errors.NewInternalError(err)
		}
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for _, item := range items {
		row, ok := cells(item)
		if !ok {
			return nil, errors.NewGenericServerResponse(http.StatusInternalServerError, "get", resource, "", fmt.Sprintf("cannot print %T as a table", item), 0, false)
		}
		table.Rows = append(table.Rows, metav1.TableRow{Object: runtime.RawExtension{Object: item}, Cells: row})
	}
	return table, nil
}
