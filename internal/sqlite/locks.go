package sqlite

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/storekit"
)

// TryLock: see portal.Locker. One statement decides, under SQLite's write
// lock: two instances cannot both see a lease lapsed and both take it.
func (db *DB) TryLock(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	return storekit.TryLock(name, holder, func() (n int64, err error) {
		err = db.write(ctx, "take a lock", func(tx querier) error {
			n, err = affected(tx.ExecContext(ctx, `INSERT INTO locks (name, holder, expires_at) VALUES (?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
				WHERE locks.holder = excluded.holder OR locks.expires_at <= ?`,
				name, holder, storekit.CeilMillis(until).UnixMilli(), db.Now().UnixMilli()))
			return err
		})
		return n, err
	})
}

// Renew: see portal.Locker.
func (db *DB) Renew(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	var n int64
	err := db.write(ctx, "renew a lock", func(tx querier) (err error) {
		n, err = affected(tx.ExecContext(ctx, `UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?`,
			storekit.CeilMillis(until).UnixMilli(), name, holder))
		return err
	})
	return n == 1, err
}

// Unlock: see portal.Locker.
func (db *DB) Unlock(ctx context.Context, name, holder string) error {
	return db.write(ctx, "release a lock", func(tx querier) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND holder = ?`, name, holder)
		return err
	})
}
