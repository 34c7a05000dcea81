package sqlite

import (
	"context"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// Commit: see portal.Store. The transaction holds SQLite's write lock from
// its start (BEGIN IMMEDIATE), which serialises it with every append; the
// row is read back in it.
func (db *DB) Commit(ctx context.Context, ev portal.AuditEvent, change portal.InventoryChange) (portal.AuditEvent, portal.InventoryItem, error) {
	var item portal.InventoryItem
	if err := storekit.CheckChange(ev, change); err != nil {
		return ev, item, err
	}
	var stored portal.AuditEvent
	err := db.write(ctx, "save the change", func(tx querier) error {
		if err := fence(ctx, tx, ev, change); err != nil {
			return err
		}
		it := change.Item
		var err error
		switch change.Op {
		case portal.InventoryPut:
			err = putItem(ctx, tx, it)
		case portal.InventoryDelete:
			_, err = tx.ExecContext(ctx, `DELETE FROM inventory WHERE tenant_id = ? AND object_id = ?`, it.TenantID.String(), it.ObjectID.String())
		case portal.InventoryVerified:
			err = markVerified(ctx, tx, it, change.IfVersion)
		}
		if err != nil {
			return err
		}
		if stored, err = appendAudit(ctx, tx, ev); err != nil {
			return storekit.Failed(err, "write the audit log")
		}
		if err := recordStep(ctx, tx, change.Step, stored); err != nil {
			return err
		}
		if change.Op == portal.InventoryPut || change.Op == portal.InventoryVerified {
			item, err = getItem(ctx, tx, it.TenantID, it.ObjectID)
		}
		return err
	})
	if err != nil {
		return ev, portal.InventoryItem{}, err
	}
	return stored, item, nil
}

// putItem inserts the row or replaces everything but its key, creation and
// version, which it bumps.
func putItem(ctx context.Context, q querier, it portal.InventoryItem) error {
	_, err := q.ExecContext(ctx, `INSERT INTO inventory (tenant_id, object_id, client_ids, kind, state, label,
			created_at, created_by_tid, created_by_oid, created_by_name,
			updated_at, updated_by_tid, updated_by_oid, updated_by_name,
			verified_at, observed, expires_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		ON CONFLICT (tenant_id, object_id) DO UPDATE SET
			client_ids = excluded.client_ids, kind = excluded.kind,
			state = excluded.state, label = excluded.label,
			updated_at = excluded.updated_at, updated_by_tid = excluded.updated_by_tid,
			updated_by_oid = excluded.updated_by_oid, updated_by_name = excluded.updated_by_name,
			verified_at = excluded.verified_at, observed = excluded.observed,
			expires_at = excluded.expires_at, version = inventory.version + 1`, write.Item(it)...)
	return err
}

// markVerified records a verification; ENOTFOUND if the row is gone,
// ECONFLICT if it is not at ifVersion (when not 0).
func markVerified(ctx context.Context, q querier, it portal.InventoryItem, ifVersion int64) error {
	n, err := affected(q.ExecContext(ctx, `UPDATE inventory SET state = ?, verified_at = ?, observed = ?
		WHERE tenant_id = ? AND object_id = ? AND (? = 0 OR version = ?)`,
		append(write.Verified(it), it.TenantID.String(), it.ObjectID.String(), ifVersion, ifVersion)...))
	if err != nil || n > 0 {
		return err
	}
	return storekit.NotVerified(q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM inventory WHERE tenant_id = ? AND object_id = ?)`,
		it.TenantID.String(), it.ObjectID.String()), ifVersion)
}

// fence refuses a commit whose lease was taken over (or released), whose job
// this instance no longer runs, or whose outcome cites an intent already
// settled (see portal.Store.Commit). It runs inside the commit's write
// transaction, which holds SQLite's write lock: no TryLock, InterruptStale
// or other outcome can come between the check and the write.
func fence(ctx context.Context, tx querier, ev portal.AuditEvent, change portal.InventoryChange) error {
	if l := change.Lease; l.Name != "" {
		var held bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM locks WHERE name = ? AND holder = ?)`, l.Name, l.Holder).Scan(&held); err != nil {
			return err
		}
		if !held {
			return portal.ErrLeaseLost
		}
	}
	if s := change.Step; s != nil {
		if err := holds(ctx, tx, s.Job, s.Holder); err != nil {
			return err
		}
	}
	if ev.Phase == portal.PhaseOutcome && ev.IntentSeq != 0 {
		var open bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_open_intents WHERE seq = ?)`, ev.IntentSeq).Scan(&open); err != nil {
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
func recordStep(ctx context.Context, tx querier, s *portal.JobStep, ev portal.AuditEvent) error {
	switch {
	case s == nil:
		return nil
	case s.Result == nil && ev.Phase == portal.PhaseIntent:
		_, err := tx.ExecContext(ctx, `UPDATE bulk_job_rows SET intent_seq = ? WHERE job_id = ? AND line = ? AND status != ?`,
			ev.Seq, s.Job, s.Line, string(portal.RowDone))
		return err
	case s.Result == nil:
		return nil
	}
	r := s.Result
	n, err := affected(tx.ExecContext(ctx, `UPDATE bulk_job_rows SET status = ?, holder = ?, outcome = ?, detail = ?, request_id = ?, finished_at = ?
		WHERE job_id = ? AND line = ? AND status != ?`,
		string(portal.RowDone), s.Holder, string(r.Outcome), text(r.Detail), text(r.RequestID), r.At.UnixMilli(), s.Job, s.Line, string(portal.RowDone)))
	if err == nil && n == 0 {
		return storekit.ErrRowDone
	}
	return err
}
