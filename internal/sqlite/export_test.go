package sqlite

import "context"

// ExecBehindTheStore runs raw SQL on the database, bypassing the store: for
// tests that tamper with the audit log as an attacker with file access could.
func (db *DB) ExecBehindTheStore(ctx context.Context, query string, args ...any) error {
	_, err := db.db.ExecContext(ctx, query, args...)
	return err
}
