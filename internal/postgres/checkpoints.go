package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// checkpointColumns is the column list of audit_checkpoints, in the order
// storekit.Reader.Checkpoint scans them.
const checkpointColumns = `number, seq, hash, signed_at, key_id, signature`

// AuditAnchor: see portal.AuditCheckpoints. Read from one snapshot.
func (db *DB) AuditAnchor(ctx context.Context) (portal.AuditAnchor, error) {
	var a portal.AuditAnchor
	err := db.inTx(ctx, "read the audit log", snapshot, func(tx pgx.Tx) (err error) {
		a, err = auditAnchor(ctx, tx)
		return err
	})
	return a, err
}

// auditAnchor reads the head, the newest checkpoint and the hash of the
// row it anchors.
func auditAnchor(ctx context.Context, tx pgx.Tx) (portal.AuditAnchor, error) {
	var a portal.AuditAnchor
	var err error
	if a.Head.Seq, a.Head.Hash, err = auditHead(ctx, tx); err != nil {
		return a, err
	}
	a.Newest, err = read.Checkpoint(tx.QueryRow(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints ORDER BY number DESC LIMIT 1`))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return a, nil
	case err != nil:
		return a, err
	}
	err = tx.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = $1`, a.Newest.Seq).Scan(&a.NewestRowHash)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	return a, err
}

// CheckpointAudit: see portal.AuditCheckpoints. The transaction takes the
// audit lock (see lockAudit) before it reads: instances signing at once
// take turns, and the later one finds the head already anchored.
func (db *DB) CheckpointAudit(ctx context.Context, next func(portal.AuditAnchor) (portal.AuditCheckpoint, bool, error)) (portal.AuditCheckpoint, bool, error) {
	var c portal.AuditCheckpoint
	var ok bool
	err := db.inTx(ctx, "sign the audit log", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		a, err := auditAnchor(ctx, tx)
		if err != nil {
			return err
		}
		if c, ok, err = storekit.NextCheckpoint(a, next); err != nil || !ok {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO audit_checkpoints (`+checkpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`, write.Checkpoint(c)...)
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
		rows, err := db.pool.Query(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints WHERE number > $1 ORDER BY number LIMIT $2`, after, limit)
		return storekit.CollectN(limit, rows, err, "read the audit checkpoints", read.Checkpoint)
	}
	return storekit.Walk(db.walkChunk, next, func(c portal.AuditCheckpoint) int64 { return c.Number }, fn)
}
