package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// FillInventory: see storetest.Filler, the contract both stores meet. The
// head is read once, under the audit lock, and the events sealed one
// after another here, so that every statement goes in one pipelined batch
// instead of three round trips a row.
func (db *DB) FillInventory(ctx context.Context, evs []portal.AuditEvent, items []portal.InventoryItem) error {
	if err := storekit.CheckFill(evs, items); err != nil {
		return err
	}
	return db.inTx(ctx, "fill the inventory", pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockAudit(ctx, tx); err != nil {
			return err
		}
		seq, hash, err := auditHead(ctx, tx)
		if err != nil {
			return err
		}
		var batch pgx.Batch
		for i, it := range items {
			sealed, err := text.Seal(evs[i], seq, hash)
			if err != nil {
				return err
			}
			seq, hash = sealed.Seq, sealed.Hash
			batch.Queue(putItemSQL, write.Item(it)...)
			batch.Queue(insertAuditSQL, write.Event(sealed)...)
		}
		return tx.SendBatch(ctx, &batch).Close()
	})
}
