package sqlite

import (
	"context"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// TryLock takes the named lock for holder until the given time and reports
// whether it got it: it does if the lock is free, if its lease has lapsed
// (its expiry is at or before db.Now()), or if holder already holds it, in
// which case the lease is set to the new time. until is rounded up to the
// millisecond, so a lease never lapses before the time asked for. An empty
// name or holder is EINVALID.
func (db *DB) TryLock(ctx context.Context, name, holder string, until time.Time) (bool, error) {
	if name == "" || holder == "" {
		return false, portal.Errorf(portal.EINVALID, "A lock needs a name and a holder.")
	}
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return false, storeError(err, "take a lock")
	}
	defer done()
	defer tx.Rollback()
	// One statement decides, under the write lock: two instances cannot
	// both see a lease lapsed and both take it.
	res, err := tx.ExecContext(ctx, `INSERT INTO locks (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE locks.holder = excluded.holder OR locks.expires_at <= ?`,
		name, holder, ceilMillis(until), millis(db.Now()))
	if err != nil {
		return false, storeError(err, "take a lock")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, storeError(err, "take a lock")
	}
	if err := tx.Commit(); err != nil {
		return false, storeError(err, "take a lock")
	}
	return n == 1, nil
}

// Unlock releases the named lock if holder still holds it; otherwise (never
// taken, lapsed and taken over, already released) it does nothing and is
// not an error.
func (db *DB) Unlock(ctx context.Context, name, holder string) error {
	tx, done, err := db.beginWrite(ctx)
	if err != nil {
		return storeError(err, "release a lock")
	}
	defer done()
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM locks WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return storeError(err, "release a lock")
	}
	return storeError(tx.Commit(), "release a lock")
}
