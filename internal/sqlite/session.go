package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// GetSession: see portal.SessionStore.
func (db *DB) GetSession(ctx context.Context, keyHash []byte) (portal.SessionRecord, error) {
	s, err := read.Session(db.getSession.QueryRowContext(ctx, keyHash), keyHash)
	return s, storekit.Failed(storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoSession), "read your session")
}

// GetSessionAndHead: see portal.SessionStore.
func (db *DB) GetSessionAndHead(ctx context.Context, keyHash []byte, tenant portal.GUID) (portal.SessionRecord, int64, error) {
	s, head, err := read.SessionAndHead(db.getSessionHead.QueryRowContext(ctx, tenant.String(), keyHash), keyHash)
	return s, head, storekit.Failed(storekit.NoRow(err, sql.ErrNoRows, storekit.ErrNoSession), "read your session")
}

// PutSession: see portal.SessionStore.
func (db *DB) PutSession(ctx context.Context, s portal.SessionRecord) error {
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO sessions (key_hash, data, created_at, seen_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key_hash) DO UPDATE SET data = excluded.data, seen_at = excluded.seen_at`,
		s.KeyHash, s.Data, s.CreatedAt.UnixMilli(), s.SeenAt.UnixMilli())
	return storekit.Unavailable(err, "save your session")
}

// DeleteSession: see portal.SessionStore.
func (db *DB) DeleteSession(ctx context.Context, keyHash []byte) error {
	_, err := db.db.ExecContext(ctx, `DELETE FROM sessions WHERE key_hash = ?`, keyHash)
	return storekit.Unavailable(err, "end your session")
}

// DeleteSessionsSeenBefore: see portal.SessionStore.
func (db *DB) DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error) {
	n, err := affected(db.db.ExecContext(ctx, `DELETE FROM sessions WHERE seen_at < ?`, t.UnixMilli()))
	return int(n), storekit.Unavailable(err, "remove old sessions")
}
