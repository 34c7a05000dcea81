package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// GetSession: see portal.SessionStore.
func (db *DB) GetSession(ctx context.Context, keyHash []byte) (portal.SessionRecord, error) {
	s, err := read.Session(db.pool.QueryRow(ctx, `SELECT data, created_at, seen_at FROM sessions WHERE key_hash = $1`, keyHash), keyHash)
	return s, storekit.Failed(storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoSession), "read your session")
}

// GetSessionAndHead: see portal.SessionStore.
func (db *DB) GetSessionAndHead(ctx context.Context, keyHash []byte, tenant portal.GUID) (portal.SessionRecord, int64, error) {
	s, head, err := read.SessionAndHead(db.pool.QueryRow(ctx, `SELECT data, created_at, seen_at,
		(SELECT coalesce(max(seq), 0) FROM audit_log WHERE tenant_id = $2) FROM sessions WHERE key_hash = $1`, keyHash, uuidOf(tenant)), keyHash)
	return s, head, storekit.Failed(storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoSession), "read your session")
}

// PutSession: see portal.SessionStore.
func (db *DB) PutSession(ctx context.Context, s portal.SessionRecord) error {
	data := s.Data
	if data == nil {
		data = []byte{} // nil would be NULL
	}
	_, err := db.pool.Exec(ctx, `
		INSERT INTO sessions (key_hash, data, created_at, seen_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (key_hash) DO UPDATE SET data = excluded.data, seen_at = excluded.seen_at`,
		s.KeyHash, data, values{}.Time(s.CreatedAt), values{}.Time(s.SeenAt))
	return storekit.Unavailable(err, "save your session")
}

// DeleteSession: see portal.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, keyHash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE key_hash = $1`, keyHash)
	return storekit.Unavailable(err, "end your session")
}

// DeleteSessionsSeenBefore: see portal.SessionStore.
func (db *DB) DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE seen_at < $1`, values{}.Time(t))
	return int(tag.RowsAffected()), storekit.Unavailable(err, "remove old sessions")
}
