package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/teamsphone/portal/internal/portal"
)

var _ portal.TokenCacheStore = (*DB)(nil)

// GetTokenCache returns a session's sealed token cache.
func (db *DB) GetTokenCache(ctx context.Context, keyHash []byte) ([]byte, error) {
	var sealed []byte
	err := db.db.QueryRowContext(ctx, `SELECT sealed FROM token_caches WHERE key_hash = ?`, keyHash).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, portal.Errorf(portal.ENOTFOUND, "This session has no token cache.")
	}
	return sealed, storeError(err, "read your sign-in's tokens")
}

// PutTokenCache creates or replaces a session's sealed token cache, if the
// session still exists.
func (db *DB) PutTokenCache(ctx context.Context, keyHash, sealed []byte) error {
	res, err := db.db.ExecContext(ctx, `INSERT INTO token_caches (key_hash, sealed, updated_at)
		SELECT key_hash, ?, ? FROM sessions WHERE key_hash = ?
		ON CONFLICT (key_hash) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
		sealed, millis(db.Now()), keyHash)
	if err != nil {
		return storeError(err, "keep your sign-in's tokens")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return portal.Errorf(portal.ENOTFOUND, "The session has ended.")
	}
	return nil
}
