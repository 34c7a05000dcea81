package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/storekit"
)

// GetTokenCache: see portal.TokenCacheStore.
func (db *DB) GetTokenCache(ctx context.Context, keyHash []byte) (sealed []byte, err error) {
	err = db.pool.QueryRow(ctx, `SELECT sealed FROM token_caches WHERE key_hash = $1`, keyHash).Scan(&sealed)
	return sealed, storekit.Failed(storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoTokens), "read your sign-in's tokens")
}

// PutTokenCache: see portal.TokenCacheStore.
func (db *DB) PutTokenCache(ctx context.Context, keyHash, sealed []byte) error {
	tag, err := db.pool.Exec(ctx, `INSERT INTO token_caches (key_hash, sealed, updated_at)
		SELECT key_hash, $1, $2 FROM sessions WHERE key_hash = $3
		ON CONFLICT (key_hash) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`,
		sealed, values{}.Time(db.now()), keyHash)
	return storekit.Changed(tag.RowsAffected(), err, storekit.ErrEnded, "keep your sign-in's tokens")
}
