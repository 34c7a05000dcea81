package web

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// BenchmarkAssignmentList is the list page with a search term and a page of
// 50, through the real router and session, for profiling:
//
//	go test -run '^$' -bench AssignmentList -cpuprofile cpu.out ./web
func BenchmarkAssignmentList(b *testing.B) {
	e := newPortal(b, SessionOptions{})
	rows := benchRows(3000)
	now := time.Now()
	actor := portal.Actor{TenantID: devidp.ContosoTenant, Name: "bench"}
	for i := range rows {
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
		a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop}}
		ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: a.TenantID, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent}
		item := portal.InventoryItem{Assignment: a, Label: "Load agent " + strconv.Itoa(i), CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor, State: portal.StateInSync}
		if _, _, err := e.db.Commit(context.Background(), ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
			b.Fatal(err)
		}
	}
	c := e.browser()
	e.signIn(c, "auditor@contoso.test")
	url := e.srv.URL + "/assignments?q=agent+42&size=50"
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(url)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatal(resp.Status)
			}
		}
	})
}

// BenchmarkExports downloads both exports through the real router and
// session, PORTAL_BENCH_ROWS (5,000) rows each with a cached name, for
// profiling what a row costs:
//
//	go test -run '^$' -bench Exports -benchmem -cpuprofile cpu.out -memprofile mem.out ./web
func BenchmarkExports(b *testing.B) {
	e := newPortal(b, SessionOptions{})
	rows := benchRows(5000)
	fillBench(b, e, rows)
	c := e.browser()
	e.signIn(c, "auditor@contoso.test")
	for _, path := range []string{"/assignments.csv", "/audit.csv"} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			var n int64
			for b.Loop() {
				resp, err := c.Get(e.srv.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				n, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatal(resp.Status)
				}
			}
			b.SetBytes(n)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
		})
	}
}

// fillBench fills e's inventory with rows assignments of Contoso, each with
// an audit row and a cached name, a few thousand a transaction.
func fillBench(b testing.TB, e *portalEnv, rows int) {
	ctx := context.Background()
	now := time.Now()
	actor := portal.Actor{TenantID: devidp.ContosoTenant, Name: "bench"}
	const batch = 5000
	for from := 0; from < rows; from += batch {
		var evs []portal.AuditEvent
		var items []portal.InventoryItem
		var names []portal.DirectoryName
		for i := from; i < min(rows, from+batch); i++ {
			obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
			a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop}}
			label := "Load agent " + strconv.Itoa(i)
			evs = append(evs, portal.AuditEvent{Time: now, Actor: actor, TenantID: a.TenantID, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt,
				Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, After: portal.StateOf(a, label)})
			items = append(items, portal.InventoryItem{Assignment: a, Label: label, CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor, State: portal.StateInSync})
			names = append(names, portal.DirectoryName{TenantID: devidp.ContosoTenant, Space: portal.SpaceObject, ID: obj, Found: true,
				Kind: portal.KindUser, DisplayName: "Load person " + strconv.Itoa(i), UPN: "load" + strconv.Itoa(i) + "@contoso.test", FetchedAt: now})
		}
		if err := e.db.FillInventory(ctx, evs, items); err != nil {
			b.Fatal(err)
		}
		if err := e.db.PutNames(ctx, devidp.ContosoTenant, names); err != nil {
			b.Fatal(err)
		}
	}
	// The app's name too, as Graph would have given it: a name never
	// learned is asked of the cache on every page.
	app := []portal.DirectoryName{{TenantID: devidp.ContosoTenant, Space: portal.SpaceApp, ID: appDesktop, Found: true, DisplayName: "Contoso Agent Desktop", FetchedAt: now}}
	if err := e.db.PutNames(ctx, devidp.ContosoTenant, app); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListPages is the list at random deep pages and with a different
// search each request, PORTAL_BENCH_ROWS (10,000) rows each with a name,
// through the real router and session: what a request costs as the
// inventory grows (compare 10,000 with 200,000):
//
//	PORTAL_BENCH_ROWS=200000 go test -run '^$' -bench ListPages -cpuprofile cpu.out ./web
func BenchmarkListPages(b *testing.B) {
	e := newPortal(b, SessionOptions{})
	rows := benchRows(10000)
	fillBench(b, e, rows)
	c := e.browser()
	e.signIn(c, "auditor@contoso.test")
	var sent int64 // bytes of the pages, for the page size
	get := func(b *testing.B, path string) {
		resp, err := c.Get(e.srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		sent += n
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatal(resp.Status)
		}
	}
	start := time.Now()
	get(b, "/assignments") // the first list reads the whole inventory
	b.Logf("%d rows: the first list took %v", rows, time.Since(start).Round(time.Millisecond))
	pages := (rows + 49) / 50
	for name, path := range map[string]func() string{
		"deep": func() string { return "/assignments?page=" + strconv.Itoa(1+rand.IntN(pages)) },
		"search": func() string {
			return "/assignments?q=" + url.QueryEscape(fmt.Sprintf("person %d", rand.IntN(rows)))
		},
	} {
		b.Run(name, func(b *testing.B) {
			sent = 0
			for b.Loop() {
				get(b, path())
			}
			b.ReportMetric(float64(sent)/float64(b.N), "page-bytes")
		})
	}
}

// benchRows is PORTAL_BENCH_ROWS, or def when it is not a number.
func benchRows(def int) int {
	if n, err := strconv.Atoi(os.Getenv("PORTAL_BENCH_ROWS")); err == nil {
		return n
	}
	return def
}
