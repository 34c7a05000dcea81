package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
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
