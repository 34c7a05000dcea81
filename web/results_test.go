package web

import (
	"fmt"
	"testing"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/templates"
)

// First pages are always kept; a later page from its second asking under
// the same stamp, if soon after the first, so that a small inventory's
// pages all end up kept while a big one's random deep pages are not copied
// in one by one.
func TestResultsAdmitDeepPagesAskedTwice(t *testing.T) {
	var c resultsCache
	k := resultsKey{query: "/assignments?page=7"}
	s1, s2 := access.ListStamp{Audit: 1}, access.ListStamp{Audit: 2}
	if !c.admit(resultsKey{query: "/assignments"}, s1, 1) {
		t.Error("a first page not kept")
	}
	if c.admit(k, s1, 7) {
		t.Error("a deep page kept the first time it was asked for")
	}
	if c.admit(k, s2, 7) {
		t.Error("a deep page kept the first time it was asked for under a new stamp")
	}
	if !c.admit(k, s2, 7) {
		t.Error("a deep page asked for twice under one stamp not kept")
	}
	// Asked again only after more pages than a kept copy would outlast.
	late := resultsKey{query: "/assignments?page=9"}
	c.admit(late, s2, 9)
	for i := range maxRenderedResults / 2 {
		c.admit(resultsKey{query: fmt.Sprintf("/assignments?page=%d", 100+i)}, s2, 100+i)
	}
	if c.admit(late, s2, 9) {
		t.Error("a deep page asked for again after 128 other renderings kept")
	}
	if !c.admit(late, s2, 9) {
		t.Error("a deep page asked for twice in a row not kept")
	}
}

// The cache keeps at most maxRenderedBytes of HTML however big the pages
// (a page of 200 rows is four of 50), and its count of them stays true
// when a key is put again or renderings are dropped.
func TestResultsCacheBoundedByBytes(t *testing.T) {
	var c resultsCache
	s := access.ListStamp{Audit: 1}
	check := func(when string, last resultsKey) {
		t.Helper()
		sum := 0
		for _, r := range c.m {
			sum += len(r.html)
		}
		if sum != c.bytes || c.bytes > maxRenderedBytes || len(c.m) > maxRenderedResults {
			t.Fatalf("%s: %d renderings of %d bytes, counted %d (at most %d renderings, %d bytes)", when, len(c.m), sum, c.bytes, maxRenderedResults, maxRenderedBytes)
		}
		if _, ok := c.get(last, s); !ok {
			t.Fatalf("%s: the rendering just put is not kept", when)
		}
	}
	for i := range 200 {
		k := resultsKey{query: fmt.Sprintf("/assignments?size=200&page=%d", i)}
		c.put(k, s, keptResults(templates.ListView{}, make([]byte, 250<<10)))
		check(fmt.Sprintf("page %d of 250 KB", i), k)
		again := resultsKey{query: "/assignments?size=200&page=0"}
		c.put(again, s, keptResults(templates.ListView{}, make([]byte, 100<<10+i)))
		check(fmt.Sprintf("page 0 put again, %d", i), again)
	}
	for i := range 1000 {
		k := resultsKey{query: fmt.Sprintf("/assignments?page=%d", i)}
		c.put(k, s, keptResults(templates.ListView{}, make([]byte, 1<<10)))
		check(fmt.Sprintf("small page %d", i), k)
	}
	if len(c.m) < maxRenderedResults*3/4 {
		t.Errorf("%d small renderings kept, want at least %d", len(c.m), maxRenderedResults*3/4)
	}
	kept := keptResults(templates.ListView{Query: "q", Rows: make([]templates.AssignmentRow, 50)}, nil)
	if kept.view.Rows != nil || kept.view.Query != "q" {
		t.Errorf("the kept view: %+v rows, query %q; want no rows (they are in the HTML), the query", len(kept.view.Rows), kept.view.Query)
	}
}
