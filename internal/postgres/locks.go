package postgres

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// TryLock takes the named lock for holder until the given time and reports
// whether it got it: it does if the lock is free, if its lease has lapsed
// (its expiry is at or before the store's clock), or if holder already
// holds it, in which case the lease is set to the new time. until is
// rounded up to the millisecond, so a lease never lapses before the time
// asked for. An empty name or holder is EINVALID.
func (db *DB) TryLock(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, portal.Errorf(portal.EINVALID, "A lock needs a name and a holder.")
	}
	// One statement decides: INSERT … ON CONFLICT either inserts or locks
	// the existing row and then tests it, so two instances cannot both see
	// a lease lapsed and both take it.
	tag, err := db.pool.Exec(ctx, `INSERT INTO locks (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE locks.holder = excluded.holder OR locks.expires_at <= $4`,
		validText(name), validText(holder), ceilMillis(until), ms(db.now()))
	if err != nil {
		return false, storeError(err, "take a lock")
	}
	return tag.RowsAffected() == 1, nil
}

// Unlock releases the named lock if holder still holds it; otherwise (never
// taken, lapsed and taken over, already released) it does nothing and is
// not an error.
func (db *DB) Unlock(ctx context.Context, name, holder string) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM locks WHERE name = $1 AND holder = $2`, validText(name), validText(holder))
	return storeError(err, "release a lock")
}
