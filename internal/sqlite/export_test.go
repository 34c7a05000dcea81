package sqlite

import "context"

// ExecBehindTheStore runs raw SQL on the database, bypassing the store: for
// tests that tamper with the audit log as an attacker with file access could.
func (db *DB) ExecBehindTheStore(ctx context.Context, query string, args ...any) error {
	_, err := db.db.ExecContext(ctx, query, args...)
	return err
}

// PoolForTest reports the pool's cap and one connection's page cache, as
// PRAGMA cache_size answers it (negative: KiB).
func (db *DB) PoolForTest(ctx context.Context) (maxOpen int, cacheSize int64, err error) {
	err = db.db.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cacheSize)
	return db.db.Stats().MaxOpenConnections, cacheSize, err
}

// SetWalkChunk makes AllItems and WalkAudit read n rows per query, so that
// tests with a few rows cross chunk edges.
func (db *DB) SetWalkChunk(n int) { db.walkChunk = n }

// HoldConn takes a connection from the pool and keeps it until release is
// called: a test that needs a pool with one connection free holds the
// others.
func (db *DB) HoldConn(ctx context.Context) (release func(), err error) {
	conn, err := db.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	return func() { conn.Close() }, nil
}
