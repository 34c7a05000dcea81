package sqlite

import (
	"context"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// ExecBehindTheStore runs raw SQL on the database, bypassing the store: for
// tests that tamper with the audit log as an attacker with file access could.
func (db *DB) ExecBehindTheStore(ctx context.Context, query string, args ...any) error {
	_, err := db.db.ExecContext(ctx, query, args...)
	return err
}

// FillForTest writes items[i] with its audit row evs[i] as Commit writes
// an InventoryPut, all in one transaction: load tests fill a large
// inventory with it in seconds (storetest.Fill).
func (db *DB) FillForTest(ctx context.Context, evs []portal.AuditEvent, items []portal.InventoryItem) error {
	for i := range items {
		if err := storekit.CheckChange(evs[i], portal.InventoryChange{Op: portal.InventoryPut, Item: items[i]}); err != nil {
			return err
		}
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer done()
	defer tx.Rollback()
	for i, it := range items {
		if err := putItem(ctx, tx, it); err != nil {
			return err
		}
		if _, err := appendAudit(ctx, tx, evs[i]); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// PoolForTest reports the pool's cap and one connection's page cache, as
// PRAGMA cache_size answers it (negative: KiB).
func (db *DB) PoolForTest(ctx context.Context) (maxOpen int, cacheSize int64, err error) {
	err = db.db.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize)
	return db.db.Stats().MaxOpenConnections, cacheSize, err
}

// SetWalkChunk makes AllItems and WalkAudit read n rows per query, so that
// tests with a few rows cross chunk edges.
func (db *DB) SetWalkChunk(n int) { db.walkChunk = n }
