package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
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
	rows := 3000
	if n, err := strconv.Atoi(os.Getenv("PORTAL_BENCH_ROWS")); err == nil {
		rows = n
	}
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
	rows := 5000
	if n, err := strconv.Atoi(os.Getenv("PORTAL_BENCH_ROWS")); err == nil {
		rows = n
	}
	ctx := context.Background()
	now := time.Now()
	actor := portal.Actor{TenantID: devidp.ContosoTenant, Name: "bench"}
	var names []portal.DirectoryName
	for i := range rows {
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
		a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop}}
		label := "Load agent " + strconv.Itoa(i)
		ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: a.TenantID, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt,
			Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, After: portal.StateOf(a, label)}
		item := portal.InventoryItem{Assignment: a, Label: label, CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor, State: portal.StateInSync}
		if _, _, err := e.db.Commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
			b.Fatal(err)
		}
		names = append(names, portal.DirectoryName{TenantID: devidp.ContosoTenant, Space: portal.SpaceObject, ID: obj, Found: true,
			Kind: portal.KindUser, DisplayName: "Load person " + strconv.Itoa(i), UPN: "load" + strconv.Itoa(i) + "@contoso.test", FetchedAt: now})
	}
	if err := e.db.PutNames(ctx, devidp.ContosoTenant, names); err != nil {
		b.Fatal(err)
	}
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
