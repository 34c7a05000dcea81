package postgres_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/storetest"
)

// auditWrites are the statements that would change or remove audit rows.
var auditWrites = []string{
	`UPDATE audit_log SET justification = 'nothing to see' WHERE seq = 2`,
	`UPDATE audit_log SET actor_fold = 'x'`,
	`DELETE FROM audit_log WHERE seq = 2`,
	`DELETE FROM audit_log`,
	`TRUNCATE audit_log`,
	// and the checkpoints of its head
	`UPDATE audit_checkpoints SET seq = 2`,
	`DELETE FROM audit_checkpoints`,
	`TRUNCATE audit_checkpoints`,
}

// signHead appends a checkpoint of the head, as the portal's job does.
func signHead(t *testing.T, db *postgres.DB) {
	t.Helper()
	if _, ok := storetest.Sign(t, db, storetest.NewSigner(t), portal.CheckpointPolicy{Rows: 1, Every: time.Hour}, t0); !ok {
		t.Fatal("no checkpoint signed")
	}
}

// TestAppRoleCannotChangeTheAuditLog: a role set up by GrantAppRole (as
// MigrateAndOpen does) can append through the store, but the database
// refuses it every UPDATE, DELETE and TRUNCATE of audit_log for want of the
// privilege, and it cannot switch the guard off either.
func TestAppRoleCannotChangeTheAuditLog(t *testing.T) {
	owner := freshSchema(t)
	role := newRole(t, "portal_app_")
	app := asRole(t, owner, role)
	db, err := postgres.MigrateAndOpen(context.Background(), owner, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	storetest.AppendRows(t, db, 3) // as the app role
	signHead(t, db)
	head := storetest.VerifyChain(t, db)
	if ok, err := db.MigrationsCurrent(context.Background()); err != nil || !ok {
		t.Errorf("MigrationsCurrent as the app role: %v, %v", ok, err)
	}

	for _, stmt := range slices.Concat(auditWrites, []string{`ALTER TABLE audit_log DISABLE TRIGGER USER`, `DROP TRIGGER audit_log_no_update ON audit_log`}) {
		err := execSQL(t, app, stmt)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" {
			t.Errorf("%s as the app role: %v, want SQLSTATE 42501", stmt, err)
		} else if !strings.Contains(pe.Message, "permission denied") && !strings.Contains(pe.Message, "must be owner") {
			t.Errorf("%s as the app role: %q", stmt, pe.Message)
		}
	}
	// Privileges, not only the triggers, stop it: what it was granted on
	// audit_log and its checkpoints is reading and appending.
	for _, table := range []string{"audit_log", "audit_checkpoints"} {
		var privs string
		for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"} {
			var has bool
			if err := queryRow(t, owner, `SELECT has_table_privilege($1, $2, $3)`, []any{role, table, p}, &has); err != nil {
				t.Fatal(err)
			}
			if has {
				privs += p + " "
			}
		}
		if privs != "SELECT INSERT " {
			t.Errorf("app role's privileges on %s: %q, want SELECT and INSERT", table, privs)
		}
	}
	if c := storetest.VerifyChain(t, db); !c.Intact() || c.Rows != 3 || c.HeadHash != head.HeadHash {
		t.Errorf("after refused writes: %+v", c)
	}
}

// TestTriggersRefuseEvenTheOwner: the owner (here a superuser) holds every
// privilege, and the triggers still refuse a change, a removal, a
// truncation, an upsert and an insert that does not follow the head.
func TestTriggersRefuseEvenTheOwner(t *testing.T) {
	owner := freshSchema(t)
	db := openAt(t, owner, nil)
	storetest.AppendRows(t, db, 3)
	signHead(t, db)
	head := storetest.VerifyChain(t, db)
	const cols = `at, actor_tid, actor_oid, actor_name, client_ip, tenant_id, object_id, kind, action, phase, intent_seq,
		before_state, after_state, justification, outcome, acs_status, acs_code, request_id, correlation_vector, detail`
	for _, stmt := range slices.Concat(auditWrites, []string{
		// A copy of row 3 as row 4 does not cite row 3's hash.
		`INSERT INTO audit_log (seq, ` + cols + `, prev_hash, hash, actor_fold) SELECT seq + 1, ` + cols + `, prev_hash, hash, actor_fold FROM audit_log WHERE seq = 3`,
		// Right hash, but past the head.
		`INSERT INTO audit_log (seq, ` + cols + `, prev_hash, hash, actor_fold) SELECT seq + 10, ` + cols + `, hash, hash, actor_fold FROM audit_log WHERE seq = 3`,
		// An upsert is an update.
		`INSERT INTO audit_log (seq, ` + cols + `, prev_hash, hash, actor_fold) SELECT seq + 1, ` + cols + `, hash, hash, actor_fold FROM audit_log WHERE seq = 3
			ON CONFLICT (seq) DO UPDATE SET detail = 'x'`,
	}) {
		err := execSQL(t, owner, stmt)
		table := "audit_log"
		if strings.Contains(stmt, "audit_checkpoints") {
			table = "audit_checkpoints"
		}
		if err == nil || !strings.Contains(err.Error(), table+" is append-only") {
			t.Errorf("%s as the owner: %v, want the trigger's refusal", stmt, err)
		}
	}
	if c := storetest.VerifyChain(t, db); !c.Intact() || c.Rows != 3 || c.HeadHash != head.HeadHash {
		t.Errorf("after refused writes: %+v", c)
	}
	// A well-formed append at the head is still accepted.
	storetest.AppendRows(t, db, 1)
	if c := storetest.VerifyChain(t, db); !c.Intact() || c.Rows != 4 {
		t.Errorf("after an append: %+v", c)
	}
}

func queryRow(t *testing.T, connURL, sql string, args []any, dest ...any) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql, args...).Scan(dest...)
}
