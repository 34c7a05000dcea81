package web

import (
	"context"
	"io"
	"sync"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/templates"
)

// resultsCache keeps renderings of the assignments list's results for
// reuse. A rendering is keyed by everything it depends on: the tenant, the
// question (query string), what the viewer's role shows, and the stamp of
// the inventory and names it was read from, and the minute (for relative times); a
// new stamp (any change in the tenant) simply never finds the old ones. The results hold no nonce and nothing
// of the viewer but the role flags in the key.
type resultsCache struct {
	mu    sync.Mutex
	m     map[resultsKey]*renderedResults
	bytes int // of the kept HTML
	// asked are pages past the first asked for once, not kept, each with
	// the count of renderings made when it was (admit).
	asked map[resultsKey]uint64
	made  uint64
}

type resultsKey struct {
	tenant              portal.GUID
	stamp               access.ListStamp
	minute              int64
	query               string
	mayGrant, mayExport bool
	readiness           uint64 // which run of the readiness checks (the "not ready" filter and count)
}

// renderedResults is a list view and its results' HTML. It implements
// templ.Component by writing that HTML: bytes templ itself rendered, and so
// escaped, from the view. The view is what the page around the results
// shows (search box, filters, counts), without its rows: they are in the
// HTML, and kept twice they would double what the cache holds.
type renderedResults struct {
	view templates.ListView
	html []byte
}

// keptResults is the rendering of view's results, html, as the cache keeps it.
func keptResults(view templates.ListView, html []byte) *renderedResults {
	view.Rows = nil
	return &renderedResults{view: view, html: html}
}

func (r *renderedResults) Render(_ context.Context, w io.Writer) error {
	_, err := w.Write(r.html)
	return err
}

// The cache holds at most maxRenderedResults renderings and
// maxRenderedBytes of their HTML, whichever comes first: a page of 50 rows
// is about 60 KB, one of 200 four times that, and a cache bounded only by
// count held 90 MB of 200-row pages (issue 13's load script with phases of
// 200-row pages, 200,000 rows: the portal's peak RSS 374 MB; 251 MB with
// the byte bound).
const (
	maxRenderedResults = 256
	maxRenderedBytes   = 16 << 20
)

// maxAsked bounds the pages remembered as asked for once.
const maxAsked = 4096

// admit reports whether a rendering of page under k is worth keeping: a
// first page always; a later one when it was asked for before under the
// same stamp, and recently: within half the cache's count bound of
// uncached renderings of later pages (of any tenant). That is a rough
// stand-in for "kept then, it would still be here" (first pages are kept
// too, a full cache drops a random quarter, and its byte bound holds only
// some 64 pages of 200 rows), and what matters is its scale.
// Keeping a page costs a copy of its 60 KB. A small inventory's pages are
// asked again soon and end up kept; random deep pages of a big one (4,000
// pages at 200,000 rows) come back only after thousands of others, by
// when a kept copy would long have been pushed out: keeping them only
// cost the copy and pushed first pages out.
func (c *resultsCache) admit(k resultsKey, stamp access.ListStamp, page int) bool {
	if page <= 1 {
		return true
	}
	k.stamp = stamp
	c.mu.Lock()
	defer c.mu.Unlock()
	c.made++
	if at, ok := c.asked[k]; ok && c.made-at <= maxRenderedResults/2 {
		delete(c.asked, k)
		return true
	}
	if c.asked == nil || len(c.asked) >= maxAsked {
		c.asked = map[resultsKey]uint64{}
	}
	c.asked[k] = c.made
	return false
}

func (c *resultsCache) get(k resultsKey, stamp access.ListStamp) (*renderedResults, bool) {
	k.stamp = stamp
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.m[k]
	return r, ok
}

func (c *resultsCache) put(k resultsKey, stamp access.ListStamp, r *renderedResults) {
	if stamp.Audit == 0 {
		return // unknown state: nothing to key it by
	}
	k.stamp = stamp
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[resultsKey]*renderedResults{}
	}
	if len(r.html) > maxRenderedBytes/16 {
		return // a rare huge page would push out sixteen others
	}
	if old, ok := c.m[k]; ok {
		delete(c.m, k)
		c.bytes -= len(old.html)
	}
	if len(c.m) >= maxRenderedResults || c.bytes+len(r.html) > maxRenderedBytes {
		// Make room by dropping a quarter, chosen by map order (random):
		// emptying it all at once would make the popular pages cold too.
		// A quarter at least, and more while the new page does not fit.
		drop := len(c.m) / 4
		for key, old := range c.m {
			if drop <= 0 && c.bytes+len(r.html) <= maxRenderedBytes {
				break
			}
			delete(c.m, key)
			c.bytes -= len(old.html)
			drop--
		}
	}
	c.m[k] = r
	c.bytes += len(r.html)
}
