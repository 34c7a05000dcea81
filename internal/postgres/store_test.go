package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/storetest"
)

// TestStoreContract runs the store contract, each subtest in a schema of
// its own, as the schema's owner.
func TestStoreContract(t *testing.T) {
	serverURL(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) portal.Store {
		db := openAt(t, freshSchema(t), now)
		db.SetWalkChunk(3) // walks cross chunk edges
		return db
	})
}

// TestOneConnection: with a pool of one connection, a walk's fn can still
// use the store (see storetest.RunOneConnection).
func TestOneConnection(t *testing.T) {
	db := openAt(t, withParam(t, freshSchema(t), "pool_max_conns", "1"), nil)
	db.SetWalkChunk(3)
	storetest.RunOneConnection(t, db)
}

// TestStoreContractAsAppRole runs the contract again as a production
// portal runs: migrated by the owner, used by an app role holding only
// what GrantAppRole gives it. A query needing more fails here.
func TestTokenCaches(t *testing.T) {
	storetest.RunTokenCaches(t, func(t *testing.T) storetest.SessionStores { return openDB(t) })
}

func TestStoreContractAsAppRole(t *testing.T) {
	serverURL(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) portal.Store { return openAsAppRole(t, now) })
}

// openAsAppRole opens a store on a fresh schema as a production portal
// runs: migrated by the owner, used by an app role holding only what
// GrantAppRole gives it.
func openAsAppRole(t *testing.T, now func() time.Time) *postgres.DB {
	t.Helper()
	owner := freshSchema(t)
	app := asRole(t, owner, newRole(t, "portal_app_"))
	db, err := postgres.MigrateAndOpen(context.Background(), owner, app, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var (
	tenant = storetest.Tenant
	admin  = storetest.Admin
	t0     = storetest.T0
	guid   = storetest.GUID
)

// disableGuard is what an owner bent on tampering would do first.
const disableGuard = `ALTER TABLE audit_log DISABLE TRIGGER USER`

// TestAuditTamperingIsFound changes the log behind the store's back, as its
// owner could after disabling the triggers, and shows the chain check names
// the first row that no longer follows.
func TestAuditTamperingIsFound(t *testing.T) {
	storetest.RunTampering(t, []storetest.Tampering{
		{Name: "justification changed", SQL: `UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 5`, Broken: 5, Problem: "changed after it was written"},
		{Name: "hash recomputed is still caught by the next row", SQL: `UPDATE audit_log SET justification = 'x', hash = 'f00d' WHERE seq = 5`, Broken: 5, Problem: "changed after it was written"},
		{Name: "time changed", SQL: `UPDATE audit_log SET at = at + interval '1 millisecond' WHERE seq = 3`, Broken: 3, Problem: "changed after it was written"},
		{Name: "middle row deleted", SQL: `DELETE FROM audit_log WHERE seq = 5`, Broken: 6, Problem: "rows are missing or reordered"},
		{Name: "last row deleted", SQL: `DELETE FROM audit_log WHERE seq = 8`}, // only a checkpoint of the head can show this
		{Name: "a tenant's row renumbered", SQL: `UPDATE audit_log SET tenant_seq = 70 WHERE seq = 3`, Broken: 3, Problem: "is numbered 70 among its tenant's rows, not 3"},
		{Name: "two rows swapped", SQL: `UPDATE audit_log SET seq = 100 WHERE seq = 4; UPDATE audit_log SET seq = 4 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 100`, Broken: 4, Problem: "does not cite the hash"},
		{Name: "row renumbered to close a gap", SQL: `DELETE FROM audit_log WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6`, Broken: 5, Problem: "does not cite the hash"},
	}, func(t *testing.T) (portal.AuditLog, func(string) error) {
		owner := freshSchema(t)
		return openAt(t, owner, nil), func(sql string) error { return execSQL(t, owner, disableGuard+`; `+sql) }
	})
}

// TestAuditAnchorTampering: what the chain alone cannot show — rows
// removed from the end, rows appended by hand in their place, a log
// re-hashed from a middle row — and tampering with the checkpoints
// themselves, each found by verify against the signed checkpoints or a
// head held outside (SECURITY.md, P1 Audit chain). The owner (a superuser
// here) switches the triggers off for the change and on again, so rows
// appended afterwards are numbered as usual.
func TestAuditAnchorTampering(t *testing.T) {
	storetest.RunAnchorTampering(t, storetest.AnchorTamperings(), func(t *testing.T) (storetest.AnchoredLog, func(string) error) {
		owner := freshSchema(t)
		return openAt(t, owner, nil), func(sql string) error {
			return execSQL(t, owner, disableGuard+`; ALTER TABLE audit_checkpoints DISABLE TRIGGER USER; `+sql+
				`; ALTER TABLE audit_log ENABLE TRIGGER USER; ALTER TABLE audit_checkpoints ENABLE TRIGGER USER`)
		}
	})
}

// TestAuditRowChangedOutsideThePortal: a value the portal never writes is
// reported with the row's seq, not as a generic failure.
func TestAuditRowChangedOutsideThePortal(t *testing.T) {
	owner := freshSchema(t)
	db := openAt(t, owner, nil)
	storetest.AppendRows(t, db, 3)
	if err := execSQL(t, owner, disableGuard+`; UPDATE audit_log SET kind = 'alien' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	err := db.WalkAudit(context.Background(), portal.GUID{}, func(portal.AuditEvent) error { return nil })
	if portal.ErrorCode(err) != portal.EINTERNAL || !strings.Contains(portal.ErrorMessage(err), "Audit row 2 ") {
		t.Errorf("WalkAudit over a mangled row: %v", err)
	}
}

// TestTextWithNUL: PostgreSQL text cannot hold NUL, so the store keeps it
// as U+FFFD, as it keeps invalid UTF-8, before sealing: the row is
// appended, reads back as returned, and verifies. Searches and filters
// holding NUL are answered, not failed.
func TestTextWithNUL(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	ev, err := db.AppendAudit(ctx, portal.AuditEvent{Time: t0, Actor: portal.Actor{Name: "x\x00y"}, TenantID: tenant,
		Action: portal.ActionSignInFailure, Detail: "a\x00b", After: &portal.AuditState{Kind: "user", Label: "l\x00"}})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Detail != "a\uFFFDb" || ev.Actor.Name != "x\uFFFDy" || ev.After.Label != "l\uFFFD" {
		t.Errorf("stored as %q, %q, %q", ev.Detail, ev.Actor.Name, ev.After.Label)
	}
	if c := storetest.VerifyChain(t, db); !c.Intact() || c.HeadHash != ev.Hash {
		t.Errorf("row with NUL: %+v", c)
	}
	it := portal.InventoryItem{Assignment: portal.Assignment{TenantID: tenant, ObjectID: guid("object", 1), Kind: portal.KindUser},
		Label: "desk\x00one", UpdatedAt: t0, UpdatedBy: admin}
	_, got, err := db.Commit(ctx, portal.AuditEvent{Time: t0, Actor: admin, TenantID: tenant, ObjectID: it.ObjectID, Action: portal.ActionGrant},
		portal.InventoryChange{Op: portal.InventoryPut, Item: it})
	if err != nil || got.Label != "desk\uFFFDone" {
		t.Fatalf("Put with NUL: %q, %v", got.Label, err)
	}
	if page, err := db.ListAudit(ctx, portal.AuditFilter{TenantID: tenant, Actor: "X\x00Y", Outcome: "\x00"}); err != nil || page.Matched != 0 {
		t.Errorf("audit filter with NUL: %+v, %v", page, err)
	}
	name := portal.DirectoryName{TenantID: tenant, Space: portal.SpaceObject, ID: guid("object", 2), Found: true,
		DisplayName: "Ana\x00Lima", UPN: "ana\x00@contoso.com", Phone: "\x00", FetchedAt: t0}
	if err := db.PutNames(ctx, tenant, []portal.DirectoryName{name}); err != nil {
		t.Fatalf("PutNames with NUL: %v", err)
	}
	if got, err := db.SearchNames(ctx, tenant, portal.SpaceObject, "A\x00L", 10); err != nil || len(got) != 1 ||
		got[0].DisplayName != "Ana\uFFFDLima" || got[0].UPN != "ana\uFFFD@contoso.com" || got[0].Phone != "\uFFFD" {
		t.Errorf("SearchNames with NUL: %+v, %v", got, err)
	}
	for _, id := range []string{"\x00", "\xff"} {
		if _, err := db.GetPlan(ctx, tenant, id); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("GetPlan(%q): %v, want not found", id, err)
		}
		if _, err := db.GetJob(ctx, tenant, id); portal.ErrorCode(err) != portal.ENOTFOUND {
			t.Errorf("GetJob(%q): %v, want not found", id, err)
		}
	}
}

// TestStoreErrorsAreSafe: a database failure is EUNAVAILABLE with a
// sentence for people, never SQL or a connection string.
func TestStoreErrorsAreSafe(t *testing.T) {
	db := openDB(t)
	db.Close()
	ctx := context.Background()
	_, err1 := db.GetItem(ctx, tenant, admin.ObjectID)
	_, err2 := db.ExpiringItems(ctx, t0, 10)
	_, err3 := db.AppendAudit(ctx, portal.AuditEvent{Time: t0})
	_, _, err4 := db.Commit(ctx, portal.AuditEvent{Time: t0}, portal.InventoryChange{})
	_, err5 := db.TryLock(ctx, "x", "y", t0)
	_, _, err6 := db.ClaimJob(ctx, "i1", t0)
	err7 := db.PutSession(ctx, portal.SessionRecord{KeyHash: []byte("k"), CreatedAt: t0, SeenAt: t0})
	_, err8 := db.NamesRevision(ctx, tenant)
	err9 := db.PutNames(ctx, tenant, []portal.DirectoryName{{TenantID: tenant, Space: portal.SpaceObject, ID: admin.ObjectID, FetchedAt: t0}})
	_, err10 := db.GetItems(ctx, tenant, []portal.GUID{admin.ObjectID})
	storetest.SafeErrors(t, err1, err2, err3, err4, err5, err6, err7, err8, err9, err10)
}

// TestAppendsFromTwoInstancesStayLinear: two portal instances (each its own
// pool) on one database append at once; the advisory lock keeps one chain.
func TestAppendsFromTwoInstancesStayLinear(t *testing.T) {
	connURL := freshSchema(t)
	storetest.AppendFromInstances(t, openAt(t, connURL, nil), openAt(t, connURL, nil))
}

// TestPutNamesFromTwoInstances: instances refreshing the same names at
// once, each in its own order, neither deadlock nor fail, and a copy kept
// with NamesSince meanwhile misses none of their puts.
func TestPutNamesFromTwoInstances(t *testing.T) {
	connURL := freshSchema(t)
	storetest.PutNamesFromInstances(t, openAt(t, connURL, nil), openAt(t, connURL, nil))
}

// BenchmarkJobProgress: what a job page's poll costs, for 50 rows and for
// 50,000 (see storetest.BenchJobProgress).
//
//	PORTAL_TEST_POSTGRES_URL=… go test -run '^$' -bench BenchmarkJobProgress -count 3 ./internal/postgres
func BenchmarkJobProgress(b *testing.B) {
	storetest.BenchJobProgress(b, func(b *testing.B) portal.Store { return openDB(b) })
}

// TestJobCountsMigration: the migration that keeps job counts back-fills
// them for the jobs a database already has.
func TestJobCountsMigration(t *testing.T) {
	connURL := freshSchema(t)
	storetest.RunJobCountsMigration(t, openAt(t, connURL, nil), func(t *testing.T) portal.Store {
		if err := execSQL(t, connURL, `DROP TABLE bulk_job_counts, bulk_job_finishes;
			DROP TRIGGER bulk_job_rows_done_is_final ON bulk_job_rows; DROP TRIGGER bulk_job_rows_count_insert ON bulk_job_rows;
			DROP TRIGGER bulk_job_rows_count_update ON bulk_job_rows; DROP TRIGGER bulk_job_rows_count_delete ON bulk_job_rows;
			DROP FUNCTION bulk_job_rows_done_is_final(), bulk_job_rows_count();
			DELETE FROM schema_migrations WHERE name = '0008_job_counts.sql'`); err != nil {
			t.Fatal(err)
		}
		return openAt(t, connURL, nil)
	})
}

// TestTenantSeqMigration: rows already in the log are numbered per tenant
// by the migration that adds the numbers.
func TestTenantSeqMigration(t *testing.T) {
	connURL := freshSchema(t)
	storetest.RunTenantSeqMigration(t, openAt(t, connURL, nil), func(t *testing.T) storetest.AnchoredLog {
		if err := execSQL(t, connURL, `DROP TRIGGER audit_log_number_in_tenant ON audit_log; DROP FUNCTION audit_log_number_in_tenant();
			ALTER TABLE audit_log DROP COLUMN tenant_seq; DROP TABLE audit_checkpoints;
			DELETE FROM schema_migrations WHERE name = '0010_audit_anchors.sql'`); err != nil {
			t.Fatal(err)
		}
		return openAt(t, connURL, nil)
	})
}

// TestJobCountsNeedNoRights: the portal's role changes a job's rows
// without any right to change the counts (the triggers keep them with
// their owner's), as a replica of the previous version does during a
// rollout, before it is granted anything on the tables that keep them.
func TestJobCountsNeedNoRights(t *testing.T) {
	owner := freshSchema(t)
	role := newRole(t, "portal_app_")
	db, err := postgres.MigrateAndOpen(context.Background(), owner, asRole(t, owner, role), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := execSQL(t, owner, `REVOKE INSERT, UPDATE, DELETE ON bulk_job_counts, bulk_job_finishes FROM `+role); err != nil {
		t.Fatal(err)
	}
	storetest.RunJobCountsMigration(t, db, nil)
}

// TestFinishedJobRowIsFinal: the database refuses to change a finished
// row's outcome, which the counts of finishes rely on.
func TestFinishedJobRowIsFinal(t *testing.T) {
	connURL := freshSchema(t)
	storetest.RunJobCountsMigration(t, openAt(t, connURL, nil), nil) // jobs in every state
	err := execSQL(t, connURL, `UPDATE bulk_job_rows SET outcome = 'failed' WHERE status = 'done'`)
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
