package access_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/portal"
)

// TestReconcileTiming measures a reconcile of 10,000 assignments against
// the emulator adding 25 ms to every call, beside its ideal (rows × 25 ms ÷
// the 8 calls in flight):
//
//	PORTAL_LOAD=1 go test -run TestReconcileTiming -v -count=1 ./internal/access
//
// PORTAL_LOAD_ROWS changes the count. The target is 1.3 × ideal.
func TestReconcileTiming(t *testing.T) {
	if os.Getenv("PORTAL_LOAD") == "" {
		t.Skip("timing: set PORTAL_LOAD=1 to run it (about a minute)")
	}
	rows := 10000
	if n, err := strconv.Atoi(os.Getenv("PORTAL_LOAD_ROWS")); err == nil && n > 0 {
		rows = n
	}
	ctx := context.Background()
	e := newEnv(t)
	now := time.Now()
	actor := portal.Actor{TenantID: contoso, Name: "System (timing seed)"}
	for i := range rows {
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
		a := portal.Assignment{TenantID: contoso, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appA}}
		if err := e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: obj, PrincipalType: "user", ClientIDs: []string{appA.String()}}); err != nil {
			t.Fatal(err)
		}
		ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: contoso, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess}
		item := portal.InventoryItem{Assignment: a, CreatedAt: now, CreatedBy: actor, UpdatedAt: now, UpdatedBy: actor, State: portal.StateUnverified}
		if _, _, err := e.db.Commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	// One drifted row in a hundred, one missing in a thousand: the audited part.
	for i := 0; i < rows; i += 100 {
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", i+1, i+1))
		e.emu.Seed(acsemu.Stored{Host: e.host, TenantID: contoso, ObjectID: obj, PrincipalType: "user", ClientIDs: []string{appB.String()}})
		if i%1000 == 0 {
			e.emu.Remove(e.host, contoso, obj)
		}
	}
	rates, err := acsemu.ParseRates("latency=25ms")
	if err != nil {
		t.Fatal(err)
	}
	e.emu.SetRates(rates)
	start := time.Now()
	rep, err := e.svc.Reconcile(ctx, system, contoso)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	ideal := time.Duration(rows) * 25 * time.Millisecond / 8
	t.Logf("reconciled %d rows in %v; ideal %v; ratio %.2f; %s", rows, elapsed.Round(time.Millisecond), ideal, float64(elapsed)/float64(ideal), rep)
	if rep.Checked != rows || rep.Failed != 0 {
		t.Errorf("report: %+v", rep)
	}
}
