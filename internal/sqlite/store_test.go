package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
	"github.com/teamsphone/portal/internal/storetest"
)

// TestStoreContract runs the store contract with three rows to a chunk of
// AllItems and WalkAudit, so that walks cross chunk edges.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) portal.Store {
		db := openDB(t)
		db.Now = now
		db.SetWalkChunk(3)
		return db
	})
}

// TestOneConnection: with one connection of the pool free, a walk's fn
// can still use the store (see storetest.RunOneConnection). The pool has
// two, the fewest a writer and a reader need; the test holds one.
func TestOneConnection(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.OpenWith(ctx, filepath.Join(t.TempDir(), "portal.db"), sqlite.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetWalkChunk(3)
	release, err := db.HoldConn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	storetest.RunOneConnection(t, db)
}

func TestTokenCaches(t *testing.T) {
	storetest.RunTokenCaches(t, func(t *testing.T) storetest.SessionStores { return openDB(t) })
}

var (
	tenant = storetest.Tenant
	t0     = storetest.T0
)

const dropTriggers = `DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_log_append_at_head`

// TestAuditTamperingIsFound changes the log behind the store's back, as
// someone with the database file could after dropping the triggers, and
// shows the chain check names the first row that no longer follows.
func TestAuditTamperingIsFound(t *testing.T) {
	storetest.RunTampering(t, []storetest.Tampering{
		{Name: "justification changed", SQL: `UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 5`, Broken: 5, Problem: "changed after it was written"},
		{Name: "hash recomputed is still caught by the next row", SQL: `UPDATE audit_log SET justification = 'x', hash = 'f00d' WHERE seq = 5`, Broken: 5, Problem: "changed after it was written"},
		{Name: "time changed", SQL: `UPDATE audit_log SET time = time + 1 WHERE seq = 3`, Broken: 3, Problem: "changed after it was written"},
		{Name: "middle row deleted", SQL: `DELETE FROM audit_log WHERE seq = 5`, Broken: 6, Problem: "rows are missing or reordered"},
		{Name: "last row deleted", SQL: `DELETE FROM audit_log WHERE seq = 8`, Broken: 0, Problem: ""}, // only a checkpoint of the head can show this
		{Name: "a tenant's row renumbered", SQL: `UPDATE audit_log SET tenant_seq = 70 WHERE seq = 3`, Broken: 3, Problem: "is numbered 70 among its tenant's rows, not 3"},
		{Name: "two rows swapped", SQL: `UPDATE audit_log SET seq = 100 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 100`, Broken: 4, Problem: "does not cite the hash"},
		{Name: "row renumbered to close a gap", SQL: `DELETE FROM audit_log WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6`, Broken: 5, Problem: "does not cite the hash"},
	}, func(t *testing.T) (portal.AuditLog, func(string) error) {
		db := openDB(t)
		return db, func(sql string) error { return db.ExecBehindTheStore(context.Background(), dropTriggers+`; `+sql) }
	})
}

// TestAuditAnchorTampering: what the chain alone cannot show — rows
// removed from the end, rows appended by hand in their place, a log
// re-hashed from a middle row — and tampering with the checkpoints
// themselves, each found by verify against the signed checkpoints or a
// head held outside (SECURITY.md, P1 Audit chain).
func TestAuditAnchorTampering(t *testing.T) {
	storetest.RunAnchorTampering(t, storetest.AnchorTamperings(), func(t *testing.T) (storetest.AnchoredLog, func(string) error) {
		db := openDB(t)
		return db, func(sql string) error {
			return db.ExecBehindTheStore(context.Background(), dropTriggers+`; DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete; DROP TRIGGER audit_checkpoints_follow_newest; `+sql)
		}
	})
}

// TestAuditTriggersRefuseChanges: with the triggers in place, a stray write
// fails and the chain is untouched.
func TestAuditTriggersRefuseChanges(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	storetest.AppendRows(t, db, 3)
	if _, ok := storetest.Sign(t, db, storetest.NewSigner(t), portal.CheckpointPolicy{Rows: 1, Every: time.Hour}, t0); !ok {
		t.Fatal("no checkpoint signed")
	}
	head := storetest.VerifyChain(t, db)
	for _, stmt := range []string{
		`UPDATE audit_checkpoints SET seq = 2`,
		`DELETE FROM audit_checkpoints`,
		`INSERT OR REPLACE INTO audit_checkpoints SELECT * FROM audit_checkpoints`,
		`UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 2`,
		`UPDATE audit_log SET actor_fold = 'x'`,
		`DELETE FROM audit_log WHERE seq = 2`,
		`DELETE FROM audit_log`,
		// REPLACE deletes the old row without firing a DELETE trigger.
		`INSERT OR REPLACE INTO audit_log SELECT * FROM audit_log WHERE seq = 2`,
		`INSERT INTO audit_log SELECT seq + 10, time, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind, action, phase, intent_seq,
			before_state, after_state, justification, outcome, acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash, actor_fold, tenant_seq + 10
			FROM audit_log WHERE seq = 3`,
		`INSERT INTO audit_log SELECT seq + 1, time, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind, action, phase, intent_seq,
			before_state, after_state, justification, outcome, acs_status, acs_code, request_id, correlation_vector, detail, prev_hash, hash, actor_fold, tenant_seq + 1
			FROM audit_log WHERE seq = 3`, // at the head, but not citing its hash
	} {
		err := db.ExecBehindTheStore(ctx, stmt)
		if err == nil || !strings.Contains(err.Error(), " is append-only") {
			t.Errorf("%s: %v, want the trigger's refusal", stmt, err)
		}
	}
	if c := storetest.VerifyChain(t, db); !c.Intact() || c.Rows != 3 || c.HeadHash != head.HeadHash {
		t.Errorf("after refused writes: %+v", c)
	}
}

// TestAuditRowChangedOutsideThePortal: a value the portal never writes is
// reported with the row's seq, not as a generic failure.
func TestAuditRowChangedOutsideThePortal(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	storetest.AppendRows(t, db, 3)
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
	c := storetest.VerifyChain(t, db)
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
	_, err1 := db.GetItem(ctx, tenant, storetest.Admin.ObjectID)
	_, err2 := db.ExpiringItems(ctx, t0, 10)
	_, err3 := db.AppendAudit(ctx, portal.AuditEvent{Time: t0})
	_, _, err4 := db.Commit(ctx, portal.AuditEvent{Time: t0}, portal.InventoryChange{})
	_, err5 := db.TryLock(ctx, "x", "y", t0)
	_, err6 := db.NamesRevision(ctx, tenant)
	_, err7 := db.SearchNames(ctx, tenant, portal.SpaceObject, "x", 10)
	_, err8 := db.GetItems(ctx, tenant, []portal.GUID{storetest.Admin.ObjectID})
	storetest.SafeErrors(t, err1, err2, err3, err4, err5, err6, err7, err8)
}

// TestAppendsFromTwoInstancesStayLinear: two portal instances on one
// database file (each its own connection pool and writer queue) append at
// once; SQLite's write lock, taken at BEGIN IMMEDIATE, keeps one chain.
func TestAppendsFromTwoInstancesStayLinear(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	var dbs [2]storetest.AnchoredLog
	for i := range dbs {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	storetest.AppendFromInstances(t, dbs[:]...)
}

// TestPutNamesFromTwoInstances: two instances on one database file put
// names at once while a copy kept with NamesSince follows them.
func TestPutNamesFromTwoInstances(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	var dbs [2]portal.NameStore
	for i := range dbs {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	storetest.PutNamesFromInstances(t, dbs[:]...)
}

// BenchmarkJobProgress: what a job page's poll costs, for 50 rows and for
// 50,000 (see storetest.BenchJobProgress).
//
//	go test -run '^$' -bench BenchmarkJobProgress -count 3 ./internal/sqlite
func BenchmarkJobProgress(b *testing.B) {
	storetest.BenchJobProgress(b, func(b *testing.B) portal.Store { return openDB(b) })
}

// TestJobCountsMigration: the migration that keeps job counts back-fills
// them for the jobs a database already has.
func TestJobCountsMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	open := func(t *testing.T) *sqlite.DB { return openAtPath(t, path) }
	db := open(t)
	storetest.RunJobCountsMigration(t, db, func(t *testing.T) portal.Store {
		if err := db.ExecBehindTheStore(context.Background(), `DROP TRIGGER bulk_job_rows_done_is_final; DROP TRIGGER bulk_job_rows_count_insert;
			DROP TRIGGER bulk_job_rows_count_update; DROP TRIGGER bulk_job_rows_count_delete; DROP TABLE bulk_job_counts; DROP TABLE bulk_job_finishes;
			DELETE FROM schema_migrations WHERE name = 'migrations/0009_job_counts.sql'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return open(t)
	})
}

// openAtPath opens the store on the file at path, closed when t ends.
func openAtPath(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestTenantSeqMigration: rows already in the log are numbered per tenant
// by the migration that adds the numbers.
func TestTenantSeqMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	open := func(t *testing.T) *sqlite.DB { return openAtPath(t, path) }
	db := open(t)
	storetest.RunTenantSeqMigration(t, db, func(t *testing.T) storetest.AnchoredLog {
		if err := db.ExecBehindTheStore(context.Background(), `DROP INDEX audit_log_by_tenant_seq; ALTER TABLE audit_log DROP COLUMN tenant_seq;
			DROP TABLE audit_checkpoints; DELETE FROM schema_migrations WHERE name = 'migrations/0011_audit_anchors.sql'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return open(t)
	})
}

// TestFinishedJobRowIsFinal: the database refuses to change a finished
// row's outcome, which the counts of finishes rely on.
func TestFinishedJobRowIsFinal(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	storetest.RunJobCountsMigration(t, db, nil) // jobs in every state
	err := db.ExecBehindTheStore(ctx, `UPDATE bulk_job_rows SET outcome = 'failed' WHERE status = 'done'`)
	if err == nil || !strings.Contains(err.Error(), "a finished row is final") {
		t.Errorf("changing a finished row: %v, want the trigger's refusal", err)
	}
}

// TestActiveJobRows: the metrics' count of active jobs' rows, from the
// jobs' counts.
func TestActiveJobRows(t *testing.T) {
	db := openDB(t)
	storetest.RunJobCountsMigration(t, db, nil)
	storetest.CheckActiveJobRows(t, db, db.ActiveJobRows)
}
