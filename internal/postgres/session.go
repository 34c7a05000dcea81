package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

// GetSession returns the session with keyHash, or an ENOTFOUND error.
func (db *DB) GetSession(ctx context.Context, keyHash []byte) (portal.SessionRecord, error) {
	s, err := read.Session(db.pool.QueryRow(ctx, `SELECT data, created_at, seen_at FROM sessions WHERE key_hash = $1`, keyHash), keyHash)
	return s, storekit.Failed(storekit.NoRow(err, pgx.ErrNoRows, storekit.ErrNoSession), "read your session")
}

// PutSession creates or replaces a session. Replacing keeps the creation
// time: the absolute timeout counts from it.
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

// DeleteSession removes a session; a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, keyHash []byte) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE key_hash = $1`, keyHash)
	return storekit.Unavailable(err, "end your session")
}

// DeleteSessionsSeenBefore removes sessions idle since before t and reports
// how many went.
func (db *DB) DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE seen_at < $1`, values{}.Time(t))
	return int(tag.RowsAffected()), storekit.Unavailable(err, "remove old sessions")
}
