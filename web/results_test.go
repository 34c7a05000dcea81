package web

import (
	"fmt"
	"testing"

	"github.com/teamsphone/portal/internal/access"
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
