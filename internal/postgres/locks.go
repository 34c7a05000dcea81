package postgres

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/storekit"
)

// TryLock: see portal.Locker. One statement decides: INSERT … ON CONFLICT
// either inserts or locks the existing row and then tests it, so two
// instances cannot both see a lease lapsed and both take it.
func (db *DB) TryLock(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	return storekit.TryLock(name, holder, func() (int64, error) {
		tag, err := db.pool.Exec(ctx, `INSERT INTO locks (name, holder, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE locks.holder = excluded.holder OR locks.expires_at <= $4`,
			text(name), text(holder), storekit.CeilMillis(until), values{}.Time(db.now()))
		return tag.RowsAffected(), err
	})
}

// Renew: see portal.Locker.
func (db *DB) Renew(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE locks SET expires_at = $1 WHERE name = $2 AND holder = $3`,
		storekit.CeilMillis(until), text(name), text(holder))
	return tag.RowsAffected() == 1, storekit.Unavailable(err, "renew a lock")
}

// Unlock: see portal.Locker.
func (db *DB) Unlock(ctx context.Context, name, holder string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM locks WHERE name = $1 AND holder = $2`, text(name), text(holder))
	return storekit.Unavailable(err, "release a lock")
}
