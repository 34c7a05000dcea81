package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// checkpointColumns is the column list of audit_checkpoints, in the order
// storekit.Reader.Checkpoint scans them.
const checkpointColumns = `number, seq, hash, signed_at, key_id, signature`

// AuditAnchor: see portal.AuditCheckpoints. One read transaction: one
// snapshot.
func (db *DB) AuditAnchor(ctx context.Context) (portal.AuditAnchor, error) {
	tx, err := db.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return portal.AuditAnchor{}, storekit.Unavailable(err, "read the audit log")
	}
	defer tx.Rollback()
	a, err := auditAnchor(ctx, tx)
	if err != nil {
		return a, storekit.Failed(err, "read the audit log")
	}
	return a, storekit.Unavailable(tx.Commit(), "read the audit log")
}

// auditAnchor reads the head, the newest checkpoint and the hash of the
// row it anchors.
func auditAnchor(ctx context.Context, q querier) (portal.AuditAnchor, error) {
	var a portal.AuditAnchor
	err := q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&a.Head.Seq, &a.Head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return a, err
	}
	a.Newest, err = read.Checkpoint(q.QueryRowContext(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints ORDER BY number DESC LIMIT 1`))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return a, nil
	case err != nil:
		return a, err
	}
	err = q.QueryRowContext(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, a.Newest.Seq).Scan(&a.NewestRowHash)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return a, err
}

// CheckpointAudit: see portal.AuditCheckpoints. A write transaction holds
// SQLite's write lock from its start, as appends do.
func (db *DB) CheckpointAudit(ctx context.Context, next func(portal.AuditAnchor) (portal.AuditCheckpoint, bool, error)) (portal.AuditCheckpoint, bool, error) {
	var c portal.AuditCheckpoint
	var ok bool
	err := db.write(ctx, "sign the audit log", func(tx querier) error {
		a, err := auditAnchor(ctx, tx)
		if err != nil {
			return err
		}
		if c, ok, err = storekit.NextCheckpoint(a, next); err != nil || !ok {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (`+checkpointColumns+`) VALUES (?, ?, ?, ?, ?, ?)`, write.Checkpoint(c)...)
		return err
	})
	if err != nil {
		return portal.AuditCheckpoint{}, false, err
	}
	return c, ok, nil
}

// WalkCheckpoints: see portal.AuditCheckpoints; a chunk at a time, as
// WalkAudit.
func (db *DB) WalkCheckpoints(ctx context.Context, fn func(portal.AuditCheckpoint) error) error {
	next := func(after int64, limit int) ([]portal.AuditCheckpoint, error) {
		rows, err := db.db.QueryContext(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints WHERE number > ? ORDER BY number LIMIT ?`, after, limit)
		return storekit.CollectN(limit, rows, err, "read the audit checkpoints", read.Checkpoint)
	}
	return storekit.Walk(db.walkChunk, next, func(c portal.AuditCheckpoint) int64 { return c.Number }, fn)
}
