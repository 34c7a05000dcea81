package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// Commit: see portal.Store. The transaction takes the audit lock (see
// lockAudit) first, which serialises it with every append; the row as
// stored comes back from the statement that writes it (RETURNING).
func (db *DB) Commit(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	var stored portal.AuditEvent
	var item portal.InventoryItem
	if err := storekit.CheckChange(ev, change); err != nil {
		return ev, item, err
	}
	err := db.inTx(ctx, "save the change", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		if err := fence(ctx, tx, ev, change); err != nil {
			return err
		}
		it := change.Item
		var err error
		switch change.Op {
		case portal.InventoryPut:
			item, err = putItem(ctx, tx, it)
		case portal.InventoryDelete:
			_, err = tx.Exec(ctx, `DELETE FROM inventory WHERE tenant_id = $1 AND object_id = $2`, uuidOf(it.TenantID), uuidOf(it.ObjectID))
		case portal.InventoryVerified:
			item, err = markVerified(ctx, tx, it, change.IfVersion)
		}
		if err != nil {
			return err
		}
		if stored, err = appendAudit(ctx, tx, ev); err != nil {
			return storekit.Failed(err, "write the audit log")
		}
		return recordStep(ctx, tx, change.Step, stored)
	})
	if err != nil {
		return ev, portal.InventoryItem{}, err
	}
	return stored, item, nil
}

// putItem inserts the row or replaces everything but its key, creation and
// version, which it bumps, and returns the row as stored.
func putItem(ctx context.Context, q querier, it portal.InventoryItem) (portal.InventoryItem, error) {
	return read.Item(q.QueryRow(ctx, putItemSQL, write.Item(it)...))
}

// putItemSQL is putItem's statement, bound to write.Item's values.
const putItemSQL = `INSERT INTO inventory (tenant_id, object_id, client_ids, kind, state, label,
		created_at, created_by_tid, created_by_oid, created_by_name,
		updated_at, updated_by_tid, updated_by_oid, updated_by_name,
		verified_at, observed, expires_at, version)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1)
	ON CONFLICT (tenant_id, object_id) DO UPDATE SET
		client_ids = excluded.client_ids, kind = excluded.kind,
		state = excluded.state, label = excluded.label,
		updated_at = excluded.updated_at, updated_by_tid = excluded.updated_by_tid,
		updated_by_oid = excluded.updated_by_oid, updated_by_name = excluded.updated_by_name,
		verified_at = excluded.verified_at, observed = excluded.observed,
		expires_at = excluded.expires_at, version = inventory.version + 1
	RETURNING ` + itemColumns

// markVerified records a verification and returns the row as stored;
// ENOTFOUND if the row is gone, ECONFLICT if it is not at ifVersion (when
// not 0).
func markVerified(ctx context.Context, q querier, it portal.InventoryItem, ifVersion int64) (portal.InventoryItem, error) {
	stored, err := read.Item(q.QueryRow(ctx, `UPDATE inventory SET state = $1, verified_at = $2, observed = $3
		WHERE tenant_id = $4 AND object_id = $5 AND ($6::bigint = 0 OR version = $6::bigint)
		RETURNING `+itemColumns, append(write.Verified(it), uuidOf(it.TenantID), uuidOf(it.ObjectID), ifVersion)...))
	if !errors.Is(err, pgx.ErrNoRows) {
		return stored, err
	}
	return portal.InventoryItem{}, storekit.NotVerified(q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM inventory WHERE tenant_id = $1 AND object_id = $2)`,
		uuidOf(it.TenantID), uuidOf(it.ObjectID)), ifVersion)
}

// fence refuses a commit whose lease was taken over (or released), whose job
// this instance no longer runs, or whose outcome cites an intent already
// settled (see portal.Store.Commit). The lock's row and the job's are
// locked FOR SHARE until the commit ends, so a TryLock taking the lease
// over, or an InterruptStale or ReleaseJob taking the job, waits for it and
// then sees it; outcomes are serialised by the audit lock, held already.
func fence(ctx context.Context, tx pgx.Tx, ev portal.AuditEvent, change portal.InventoryChange) error {
	if l := change.Lease; l.Name != "" {
		var held bool
		err := tx.QueryRow(ctx, `SELECT true FROM locks WHERE name = $1 AND holder = $2 FOR SHARE`, text(l.Name), text(l.Holder)).Scan(&held)
		if errors.Is(err, pgx.ErrNoRows) {
			return portal.ErrLeaseLost
		}
		if err != nil {
			return err
		}
	}
	if s := change.Step; s != nil {
		if err := holds(ctx, tx, s.Job, s.Holder); err != nil {
			return err
		}
	}
	if ev.Phase == portal.PhaseOutcome && ev.IntentSeq != 0 {
		var open bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM audit_open_intents WHERE seq = $1)`, ev.IntentSeq).Scan(&open); err != nil {
			return err
		}
		if !open {
			return portal.ErrSettled
		}
	}
	return nil
}

// recordStep records a commit of a bulk job's line on its row: an intent's
// Seq, or the line's result, which makes the row done with its outcome.
func recordStep(ctx context.Context, tx pgx.Tx, s *portal.JobStep, ev portal.AuditEvent) error {
	switch {
	case s == nil:
		return nil
	case s.Result == nil && ev.Phase == portal.PhaseIntent:
		_, err := tx.Exec(ctx, `UPDATE bulk_job_rows SET intent_seq = $1 WHERE job_id = $2 AND line = $3 AND status <> $4`,
			ev.Seq, s.Job, s.Line, string(portal.RowDone))
		return err
	case s.Result == nil:
		return nil
	}
	r := s.Result
	tag, err := tx.Exec(ctx, `UPDATE bulk_job_rows SET status = $1, holder = $2, outcome = $3, detail = $4, request_id = $5, finished_at = $6
		WHERE job_id = $7 AND line = $8 AND status <> $1`,
		string(portal.RowDone), text(s.Holder), text(string(r.Outcome)), text(r.Detail), text(r.RequestID), values{}.OptTime(r.At), s.Job, s.Line)
	if err == nil && tag.RowsAffected() == 0 {
		return storekit.ErrRowDone
	}
	return err
}
