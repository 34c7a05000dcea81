package web

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storetest"
)

// TestExportsAcrossBatches: exports are written a batch of rows at a time,
// each batch named with its own lookup; across batch edges every row
// comes once, in order, with its own names.
func TestExportsAcrossBatches(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	ctx := context.Background()
	rows := 2*access.ExportBatch + 345
	now := e.clock.Now()
	actor := portal.Actor{TenantID: devidp.ContosoTenant, Name: "Export test"}
	noSP := portal.MustParseGUID("11111111-2222-4333-8444-555555555555") // an app the tenant has no service principal for
	want := map[portal.GUID]int{}
	var names []portal.DirectoryName
	for i := range rows {
		// Written out of object order, as real IDs come.
		obj := portal.MustParseGUID(fmt.Sprintf("%08x-0000-4000-8000-%012x", (i*7919)%100003+1, i+1))
		want[obj] = i
		a := portal.Assignment{TenantID: devidp.ContosoTenant, ObjectID: obj, Kind: portal.KindUser, ClientIDs: []portal.GUID{appDesktop, noSP}}
		label := "Agent " + strconv.Itoa(i)
		ev := portal.AuditEvent{Time: now, Actor: actor, TenantID: a.TenantID, ObjectID: obj, Kind: a.Kind, Action: portal.ActionAdopt,
			Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess, After: portal.StateOf(a, label)}
		item := portal.InventoryItem{Assignment: a, Label: label, CreatedAt: now, UpdatedAt: now, CreatedBy: actor, UpdatedBy: actor}
		if _, _, err := e.db.Commit(ctx, ev, portal.InventoryChange{Op: portal.InventoryPut, Item: item}); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 { // every third never named
			names = append(names, portal.DirectoryName{TenantID: devidp.ContosoTenant, Space: portal.SpaceObject, ID: obj, Found: true,
				Kind: portal.KindUser, DisplayName: "Person " + strconv.Itoa(i), UPN: "p" + strconv.Itoa(i) + "@contoso.test", FetchedAt: now})
		}
	}
	names = append(names, portal.DirectoryName{TenantID: devidp.ContosoTenant, Space: portal.SpaceApp, ID: noSP, FetchedAt: now.Add(-time.Hour)})
	if err := e.db.PutNames(ctx, devidp.ContosoTenant, names); err != nil {
		t.Fatal(err)
	}
	auditor := e.as("auditor@contoso.test")

	read := func(path string) [][]string {
		t.Helper()
		p := e.get(auditor, path)
		recs, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
		if p.status != 200 || err != nil {
			t.Fatalf("%s: %d, %v", path, p.status, err)
		}
		return recs
	}
	recs := read("/assignments.csv")
	if len(recs) != rows+1 {
		t.Fatalf("assignments.csv: %d rows, want %d and the header", len(recs)-1, rows)
	}
	for n, r := range recs[1:] {
		obj := portal.MustParseGUID(r[0])
		i, ok := want[obj]
		if !ok || n > 0 && r[0] <= recs[n][0] {
			t.Fatalf("assignments.csv row %d: %s out of order or unknown", n+1, r[0])
		}
		delete(want, obj)
		wantName := ""
		if i%3 != 0 {
			wantName = "Person " + strconv.Itoa(i)
		}
		if r[3] != "Agent "+strconv.Itoa(i) || r[11] != wantName || r[16] != "(no service principal);Contoso Agent Desktop" {
			t.Errorf("assignments.csv row %d: label %q, name %q, apps %q; want Agent %d, %q", n+1, r[3], r[11], r[16], i, wantName)
		}
	}
	events := read("/audit.csv")
	named := 0
	for n, r := range events[1:] {
		if r[0] != strconv.Itoa(n+1) {
			t.Fatalf("audit.csv row %d has seq %s", n+1, r[0])
		}
		if r[6] == "" {
			continue
		}
		if i := objectRow(t, r[6]); i%3 != 0 && r[22] != "Person "+strconv.Itoa(i) || i%3 == 0 && r[22] != "" {
			t.Errorf("audit.csv row %d names %s %q", n+1, r[6], r[22])
		}
		named++
	}
	if named != rows {
		t.Errorf("audit.csv: %d rows about an object, want %d", named, rows)
	}
}

// objectRow is the row number a test object ID was made from.
func objectRow(t *testing.T, id string) int {
	i, err := strconv.ParseInt(id[24:], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return int(i) - 1
}

// TestAuditRowNumbersAreTheTenants: rows shown to a tenant, on the audit
// page and in its CSV, are numbered 1 to n among that tenant's rows,
// without the gaps other tenants' rows leave in seq, which the CSV keeps
// (issue 14: gaps looked like deletion under a "nothing removed" badge).
func TestAuditRowNumbersAreTheTenants(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	ctx := context.Background()
	auditor := e.as("auditor@contoso.test") // a sign-in row of Contoso's
	for i := range 12 {
		tenant := devidp.ContosoTenant
		if i%3 != 0 {
			tenant = devidp.FabrikamTenant
		}
		if _, err := e.db.AppendAudit(ctx, portal.AuditEvent{Time: e.clock.Now(), Actor: portal.Actor{TenantID: tenant, Name: "Numbers test"},
			TenantID: tenant, Action: portal.ActionVerify, Phase: portal.PhaseEvent, Outcome: portal.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	p := e.get(auditor, "/audit")
	numbers := p.testids("history-number")
	if p.status != 200 || len(numbers) < 5 {
		t.Fatalf("audit page: %d, numbers %v", p.status, numbers)
	}
	for i, n := range numbers { // newest first: n, n-1, … 1
		if n != strconv.Itoa(len(numbers)-i) {
			t.Fatalf("audit page numbers %v, want %d down to 1", numbers, len(numbers))
		}
	}
	recs, err := csv.NewReader(strings.NewReader(e.get(auditor, "/audit.csv").body)).ReadAll()
	if err != nil || len(recs) != len(numbers)+1 || recs[0][24] != "tenantSeq" {
		t.Fatalf("audit.csv: %d rows, %v", len(recs), err)
	}
	gaps := false
	for i, r := range recs[1:] {
		if r[24] != strconv.Itoa(i+1) {
			t.Errorf("audit.csv row %d: tenantSeq %s", i+1, r[24])
		}
		if i > 0 && r[0] != strconv.Itoa(mustAtoi(t, recs[i][0])+1) {
			gaps = true
		}
	}
	if !gaps {
		t.Error("seq has no gaps: the test wrote no other tenant's rows between Contoso's")
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAuditPageShowsTheCheckpoints: the chain's panel says how far the
// signed checkpoints vouch for the log and how many rows follow the
// newest, and says the log was tampered with once rows below a
// checkpoint are removed behind the portal's back, though the chain that
// is left follows row to row.
func TestAuditPageShowsTheCheckpoints(t *testing.T) {
	e := newPortal(t, SessionOptions{})
	auditor := e.as("auditor@contoso.test")
	cp, ok := storetest.Sign(t, e.db, e.signer, portal.CheckpointPolicy{Rows: 1, Every: time.Hour}, e.clock.Now())
	if !ok {
		t.Fatal("nothing to sign")
	}
	e.as("admin@contoso.test") // a row after the checkpoint
	p := e.get(auditor, "/audit")
	intact, _ := p.testid("chain-intact")
	unanchored, _ := p.testid("chain-unanchored")
	if want := fmt.Sprintf("It matches signed checkpoint 1, signed %s, so nothing up to row %d of the portal's whole log", displayTime(cp.Time), cp.Seq); !strings.Contains(intact, want) ||
		unanchored != "The newest 1 row of the whole log follow it and are signed at the next checkpoint." {
		t.Errorf("panel of an anchored log: %q / %q", intact, unanchored)
	}
	// As someone with the database file: the portal's own SQL is not used.
	raw, err := sql.Open("sqlite", e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(fmt.Sprintf(`DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= %d`, cp.Seq)); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute) // past the chain check's cache
	p = e.get(auditor, "/audit")
	if tampered, ok := p.testid("chain-tampered"); !ok || !strings.Contains(tampered, fmt.Sprintf("checkpoint 1 signed head row %d hash %s; the log ends at row %d: 1 row missing", cp.Seq, cp.Hash, cp.Seq-1)) {
		t.Errorf("panel of a truncated log: %q", tampered)
	}
	if _, ok := p.testid("chain-intact"); ok {
		t.Error("a truncated log is called intact")
	}
}
