package ui

import (
	"net/url"
	"strconv"
)

// pageSize is how many rows the list renders at once. At 10,000 Applications the whole table
// would be megabytes of HTML and a DOM the browser lays out slowly; one page of 100 rows stays
// small whatever the number of Applications, and the live stream touches only its rows.
const pageSize = 100

// pager is where one page of the list sits among the rows that match the filter.
type pager struct {
	Page, Pages int
	// First and Last are the 1-based positions of the rows shown, Of how many rows match.
	First, Last, Of int
	// Prev and Next link to the neighbouring pages with the same filter and order; empty at
	// the ends.
	Prev, Next string
	// Open says the page may take new rows at its end: it is the last page and not full. A
	// row that changes into the filter elsewhere would belong to another page, so the live
	// stream appends only here.
	Open bool
}

// pageFrom is the list's ?page, 1 when absent or not a positive number.
func pageFrom(q url.Values) int {
	n, err := strconv.Atoi(q.Get("page"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// paginate returns the rows of page (clamped to the last page) and where they sit; query is
// the filter and order that the links keep.
func paginate(rows []row, page int, query url.Values) ([]row, pager) {
	pages := max(1, (len(rows)+pageSize-1)/pageSize)
	page = max(1, min(page, pages))
	from, to := (page-1)*pageSize, min(page*pageSize, len(rows))
	p := pager{Page: page, Pages: pages, Of: len(rows), Open: page == pages && to-from < pageSize}
	if to > from {
		p.First, p.Last = from+1, to
	}
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range query {
			v[k] = vs
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		} else {
			v.Del("page")
		}
		return "/?" + v.Encode()
	}
	if page > 1 {
		p.Prev = link(page - 1)
	}
	if page < pages {
		p.Next = link(page + 1)
	}
	return rows[from:to], p
}

// thousands writes n with a comma between each group of three digits, as the count reads.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
