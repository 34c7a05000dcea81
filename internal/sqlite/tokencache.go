package sqlite

import (
	"context"
	"database/sql"

	"github.com/teamsphone/portal/internal/storekit"
)

// GetTokenCache: see portal.TokenCacheStore.
func (db *DB) GetTokenCache(ctx context.Context, keyHash []byte) (sealed []byte, err error) {
	err = db.db.QueryRowContext(ctx, `SELECT sealed FROM token_caches WHERE key_hash = ?`, keyHash).Scan(&sealed)
	return sealed, storekit.Failed(storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoTokens), "read your sign-in's tokens")
}

// PutTokenCache: see portal.TokenCacheStore.
func (db *DB) PutTokenCache(ctx context.Context, keyHash, sealed []byte) error {
	n, err := affected(db.db.ExecContext(ctx, `INSERT INTO token_caches (key_hash, sealed, updated_at)
		SELECT key_hash, ?, ? FROM sessions WHERE key_hash = ?
		ON CONFLICT (key_hash) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
		sealed, db.Now().UnixMilli(), keyHash))
	return storekit.Changed(n, err, storekit.ErrEnded, "keep your sign-in's tokens")
}
