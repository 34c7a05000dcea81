package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// FillForTest writes items[i] with its audit row evs[i] as Commit writes
// an InventoryPut, all in one transaction sent as one batch: load tests
// fill a large inventory with it in seconds (storetest.Fill).
func (db *DB) FillForTest(ctx context.Context, evs []portal.AuditEvent, items []portal.InventoryItem) error {
	for i := range items {
		if err := storekit.CheckChange(evs[i], portal.InventoryChange{Op: portal.InventoryPut, Item: items[i]}); err != nil {
			return err
		}
	}
	return db.inTx(ctx, "fill the inventory", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		var seq int64
		var hash string
		err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var b pgx.Batch
		for i, it := range items {
			sealed, err := text.Seal(evs[i], seq, hash)
			if err != nil {
				return err
			}
			seq, hash = sealed.Seq, sealed.Hash
			b.Queue(putItemSQL, write.Item(it)...)
			b.Queue(insertAuditSQL, write.Event(sealed)...)
		}
		return tx.SendBatch(ctx, &b).Close()
	})
}

// AnalyzeForTest refreshes the planner's statistics, as autovacuum would
// soon after a large fill.
func (db *DB) AnalyzeForTest(ctx context.Context) error {
	_, err := db.pool.Exec(ctx, `ANALYZE`)
	return err
}

// SetWalkChunk makes AllItems and WalkAudit read n rows per query, so that
// tests with a few rows cross chunk edges.
func (db *DB) SetWalkChunk(n int) { db.walkChunk = n }
