package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

var _ portal.SessionStore = (*DB)(nil)

// GetSession returns the session with keyHash, or an ENOTFOUND error.
func (db *DB) GetSession(ctx context.Context, keyHash []byte) (portal.SessionRecord, error) {
	s := portal.SessionRecord{KeyHash: keyHash}
	var created, seen int64
	err := db.getSession.QueryRowContext(ctx, keyHash).Scan(&s.Data, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return s, portal.Errorf(portal.ENOTFOUND, "No such session.")
	}
	if err != nil {
		return s, storeError(err, "read your session")
	}
	s.CreatedAt, s.SeenAt = fromMillis(created), fromMillis(seen)
	return s, nil
}

// PutSession creates or replaces a session.
func (db *DB) PutSession(ctx context.Context, s portal.SessionRecord) error {
	_, err := db.db.ExecContext(ctx, `
		INSERT INTO sessions (key_hash, data, created_at, seen_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key_hash) DO UPDATE SET data = excluded.data, seen_at = excluded.seen_at`,
		s.KeyHash, s.Data, millis(s.CreatedAt), millis(s.SeenAt))
	return storeError(err, "save your session")
}

// DeleteSession removes a session; a missing one is not an error.
func (db *DB) DeleteSession(ctx context.Context, keyHash []byte) error {
	_, err := db.db.ExecContext(ctx, `DELETE FROM sessions WHERE key_hash = ?`, keyHash)
	return storeError(err, "end your session")
}

// DeleteSessionsSeenBefore removes sessions idle since before t.
func (db *DB) DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := db.db.ExecContext(ctx, `DELETE FROM sessions WHERE seen_at < ?`, millis(t))
	if err != nil {
		return 0, storeError(err, "remove old sessions")
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
