package ui

import (
	"net/url"
	"sort"
	"strings"
)

// listColumns are the list's columns in order: their title and the key of ?sort=KEY (ascending)
// or ?sort=-KEY (descending).
var listColumns = []struct{ Title, Key string }{
	{"Name", "name"}, {"Namespace", "namespace"}, {"Cluster", "cluster"}, {"Revision", "revision"},
	{"Sync", "sync"}, {"Health", "health"}, {"Last operation", "operation"}, {"Age", "age"},
}

// sortKeys says what each column sorts by. Age sorts youngest first, as its numbers read.
var sortKeys = map[string]func(r row) string{
	"name": func(r row) string { return r.Name }, "namespace": func(r row) string { return r.Namespace },
	"cluster": func(r row) string { return r.Cluster }, "revision": func(r row) string { return r.Revision },
	"sync": func(r row) string { return r.Sync }, "health": func(r row) string { return r.Health },
	"operation": func(r row) string { return r.LastOperation },
}

// order is the list's ?sort: a column key and a direction; the zero order is namespace then name.
type order struct {
	Key  string
	Desc bool
}

func orderFrom(q url.Values) order {
	v := q.Get("sort")
	o := order{Key: strings.TrimPrefix(v, "-"), Desc: strings.HasPrefix(v, "-")}
	if _, ok := sortKeys[o.Key]; !ok && o.Key != "age" {
		return order{}
	}
	return o
}

// String is the order as ?sort writes it.
func (o order) String() string {
	if o.Desc {
		return "-" + o.Key
	}
	return o.Key
}

// sortRows orders rows, which come in namespace/name order, stably by o: equal keys keep the
// namespace/name order whichever the direction, so a reload never reshuffles them.
func sortRows(rows []row, o order) {
	if o.Key == "" {
		return
	}
	less := func(a, b row) bool { return a.Created > b.Created } // RFC 3339 in UTC sorts as text
	if k, ok := sortKeys[o.Key]; ok {
		less = func(a, b row) bool { return k(a) < k(b) }
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if o.Desc {
			return less(rows[j], rows[i])
		}
		return less(rows[i], rows[j])
	})
}

// sortHeader is one column header: its link sorts by it, the other way when it already does.
type sortHeader struct {
	Title, Href, AriaSort string
}

func sortHeaders(f filter, o order) []sortHeader {
	var hs []sortHeader
	for _, c := range listColumns {
		v := f.values()
		h := sortHeader{Title: c.Title}
		switch {
		case o.Key == c.Key && !o.Desc:
			h.AriaSort = "ascending"
			v.Set("sort", "-"+c.Key)
		case o.Key == c.Key:
			h.AriaSort = "descending"
			v.Set("sort", c.Key)
		default:
			v.Set("sort", c.Key)
		}
		h.Href = "/?" + v.Encode()
		hs = append(hs, h)
	}
	return hs
}
