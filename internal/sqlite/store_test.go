package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storetest"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) portal.Store {
		db := openDB(t)
		db.Now = now
		return db
	})
}

func TestTokenCaches(t *testing.T) {
	storetest.RunTokenCaches(t, func(t *testing.T) storetest.SessionStores { return openDB(t) })
}

var (
	tenant = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	admin  = portal.Actor{TenantID: tenant, ObjectID: portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111"), Name: "Alice Admin"}
	t0     = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
)

// guid returns a GUID derived from a number, scattered in order.
func guid(kind string, n int) portal.GUID {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", kind, n))
	var g portal.GUID
	copy(g[:], sum[:16])
	return g
}

// appendRows appends n audit rows, each with a distinct justification.
func appendRows(t *testing.T, db *sqlite.DB, n int) {
	t.Helper()
	for i := range n {
		if _, err := db.AppendAudit(context.Background(), portal.AuditEvent{
			Time: t0.Add(time.Duration(i) * time.Second), Actor: admin, TenantID: tenant, ObjectID: guid("object", i),
			Kind: portal.KindUser, Action: portal.ActionEdit, Phase: portal.PhaseOutcome, Outcome: portal.OutcomeSuccess,
			Justification: fmt.Sprintf("ticket %d", 4700+i),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// verify walks the whole log as `portal audit verify` does.
func verify(t *testing.T, db *sqlite.DB) portal.ChainCheck {
	t.Helper()
	var c portal.ChainCheck
	if err := db.WalkAudit(context.Background(), portal.GUID{}, func(ev portal.AuditEvent) error {
		c.Check(ev)
		return nil
	}); err != nil {
		t.Fatalf("WalkAudit: %v", err)
	}
	return c
}

const dropTriggers = `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_append_at_head`

// TestAuditTamperingIsFound changes the log behind the store's back, as
// someone with the database file could after dropping the triggers, and
// shows the chain check names the first row that no longer follows.
func TestAuditTamperingIsFound(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		tamper  string
		broken  int64
		problem string
	}{
		{"justification changed", `UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 5`, 5, "changed after it was written"},
		{"hash recomputed is still caught by the next row", `UPDATE audit_log SET justification = 'x', hash = 'f00d' WHERE seq = 5`, 5, "changed after it was written"},
		{"time changed", `UPDATE audit_log SET time = time + 1 WHERE seq = 3`, 3, "changed after it was written"},
		{"middle row deleted", `DELETE FROM audit_log WHERE seq = 5`, 6, "rows are missing or reordered"},
		{"last row deleted", `DELETE FROM audit_log WHERE seq = 8`, 0, ""}, // only a checkpoint of the head can show this
		{"two rows swapped", `UPDATE audit_log SET seq = 100 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 100`, 4, "does not cite the hash"},
		{"row renumbered to close a gap", `DELETE FROM audit_log WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6`, 5, "does not cite the hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openDB(t)
			appendRows(t, db, 8)
			if c := verify(t, db); !c.Intact() || c.Rows != 8 {
				t.Fatalf("before tampering: %+v", c)
			}
			if err := db.ExecBehindTheStore(ctx, dropTriggers+`; `+tc.tamper); err != nil {
				t.Fatal(err)
			}
			c := verify(t, db)
			if c.BrokenSeq != tc.broken || !strings.Contains(c.Problem, tc.problem) {
				t.Errorf("chain check: broken at %d (%s); want %d (%s)", c.BrokenSeq, c.Problem, tc.broken, tc.problem)
			}
		})
	}
}

// TestAuditTriggersRefuseChanges: with the triggers in place, a stray write
// fails and the chain is untouched.
func TestAuditTriggersRefuseChanges(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	appendRows(t, db, 3)
	head := verify(t, db)
	for _, stmt := range []string{
		`UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 2`,
		`UPDATE audit_log SET actor_fold = 'x'`,
		`DELETE FROM audit_log WHERE seq = 2`,
		`DELETE FROM audit_log`,
		// REPLACE deletes the old row without firing a DELETE trigger.
		`INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE seq = 2`,
		`INSERT INTO audit_log SELECT seq + 10, time, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind, action, phase, intent_seq,
			before_state, after_state, justification, outcome, acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash, actor_fold
			FROM audit_log WHERE seq = 3`,
		`INSERT INTO audit_log SELECT seq + 1, time, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind, action, phase, intent_seq,
			before_state, after_state, justification, outcome, acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash, actor_fold
			FROM audit_log WHERE seq = 3`, // at the head, but not citing its hash
	} {
		err := db.ExecBehindTheStore(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), "audit_log is append-only") {
			t.Errorf("%s: %v, want the trigger's refusal", stmt, err)
		}
	}
	if c := verify(t, db); !c.Intact() || c.Rows != 3 || c.HeadHash != head.HeadHash {
		t.Errorf("after refused writes: %+v", c)
	}
}

// TestAuditRowChangedOutsideThePortal: a value the portal never writes is
// reported with the row's seq, not as a generic failure.
func TestAuditRowChangedOutsideThePortal(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	appendRows(t, db, 3)
	if err := db.ExecBehindTheStore(ctx, dropTriggers+`; UPDATE audit_log SET actor_oid = 'not a guid' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	err := db.WalkAudit(ctx, portal.GUID{}, func(portal.AuditEvent) error { return nil })
	if portal.ErrorCode(err) != portal.EINTERNAL || !strings.Contains(portal.ErrorMessage(err), "Audit row 2 ") {
		t.Errorf("WalkAudit over a mangled row: %v", err)
	}
}

// TestAuditKeepsNUL: SQLite keeps text with NUL bytes whole (PostgreSQL
// would refuse it), so such a row still verifies.
func TestAuditKeepsNUL(t *testing.T) {
	db := openDB(t)
	ev, err := db.AppendAudit(context.Background(), portal.AuditEvent{Time: t0, Action: portal.ActionSignInFailure, Detail: "a\x00b"})
	if err != nil {
		t.Fatal(err)
	}
	c := verify(t, db)
	if !c.Intact() || c.HeadHash != ev.Hash {
		t.Errorf("row with NUL: %+v", c)
	}
}

// TestStoreErrorsAreSafe: a database failure is EUNAVAILABLE with a
// sentence for people, never SQL or a file path.
func TestStoreErrorsAreSafe(t *testing.T) {
	db := openDB(t)
	db.Close()
	ctx := context.Background()
	_, err1 := db.GetItem(ctx, tenant, admin.ObjectID)
	_, err2 := db.ExpiringItems(ctx, t0, 10)
	_, err3 := db.AppendAudit(ctx, portal.AuditEvent{Time: t0})
	_, _, err4 := db.Commit(ctx, portal.AuditEvent{Time: t0}, portal.InventoryChange{})
	_, err5 := db.TryLock(ctx, "x", "y", t0)
	_, err6 := db.NamesRevision(ctx, tenant)
	_, err7 := db.SearchNames(ctx, tenant, portal.SpaceObject, "x", 10)
	for i, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		msg := portal.ErrorMessage(err)
		if portal.ErrorCode(err) != portal.EUNAVAILABLE || !strings.HasPrefix(msg, "The portal's database could not ") ||
			strings.Contains(msg, "sql") || strings.Contains(msg, "SELECT") {
			t.Errorf("call %d: %v (%q)", i+1, err, msg)
		}
	}
}

// TestAppendsFromTwoInstancesStayLinear: two portal instances on one
// database file (each its own connection pool and writer queue) append at
// once; SQLite's write lock, taken at BEGIN IMMEDIATE, keeps one chain.
func TestAppendsFromTwoInstancesStayLinear(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "portal.db")
	var dbs [2]*sqlite.DB
	for i := range dbs {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				ev := portal.AuditEvent{Time: t0, Actor: admin, TenantID: tenant, Action: portal.ActionVerify,
					Detail: fmt.Sprintf("instance %d writer %d row %d", w%2, w, i)}
				if _, err := dbs[w%2].AppendAudit(ctx, ev); err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c := verify(t, dbs[0]); !c.Intact() || c.Rows != 200 || c.HeadSeq != 200 {
		t.Errorf("chain: %+v", c)
	}
}
