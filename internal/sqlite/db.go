// Package sqlite is the portal's embedded store on SQLite (modernc.org/sqlite,
// pure Go): sessions, the inventory, the hash-chained audit log, bulk plans
// and jobs, directory names and the leases that serialise writes to one
// assignment. All SQL lives here, next to the method that runs it; what
// both stores compute alike (checks, text, how rows are encoded and
// decoded) is internal/storekit's, and the contracts are on the
// internal/portal interfaces.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/teamsphone/portal/internal/portal"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ portal.Store = (*DB)(nil) // and SessionStore, TokenCacheStore: see internal/portal

// DB is the portal's SQLite database.
type DB struct {
	db *sql.DB
	// Now is the clock for timestamps written by the store (injected in tests).
	Now func() time.Time
	// writer admits one write transaction of this process at a time. SQLite
	// admits one anyway; without this, the others would poll for its lock
	// with sleeps of up to 100 ms (busy_timeout) instead of queueing.
	writer chan struct{}
	// writes queues the small writes, committed in groups (writes.go).
	writes writeQueue
	// Prepared once: the queries every request runs. Parsing SQL costs more
	// than running these index probes, and database/sql re-prepares a
	// statement per connection only once.
	getSession    *sql.Stmt
	auditHead     *sql.Stmt
	namesRevision *sql.Stmt
	getItem       *sql.Stmt // every change, and every row of a bulk job, reads its row first
}

// Open opens (creating if needed) the database file at path and applies any
// migration not yet recorded. It sets WAL mode, foreign keys and a busy
// timeout, so concurrent requests wait for the writer instead of failing.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	q := url.Values{}
	// cache_size: 8 MiB of pages per connection (the default is 2 MiB), so
	// a tenant's indexes stay in memory; the list page itself is answered
	// from memory by the use cases (internal/access), not by a scan here.
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(NORMAL)", "cache_size(-8192)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Keep connections open between requests: database/sql keeps only two
	// idle by default, and a new SQLite connection re-runs the pragmas and
	// re-prepares every statement.
	sqldb.SetMaxIdleConns(16)
	db := &DB{db: sqldb, Now: time.Now, writer: make(chan struct{}, 1)}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// beginWrite waits for this process's turn to write, then begins a write
// transaction (BEGIN IMMEDIATE: see Open's _txlock), which holds SQLite's
// write lock from its start. done ends the turn; call it after Commit or
// Rollback.
func (db *DB) beginWrite(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	done = func() { <-db.writer }
	if tx, err = db.db.BeginTx(ctx, nil); err != nil {
		done()
		return nil, nil, err
	}
	return tx, done, nil
}

func (db *DB) prepare(ctx context.Context) error {
	var err error
	if db.getSession, err = db.db.PrepareContext(ctx, `SELECT data, created_at, seen_at FROM sessions WHERE key_hash = ?`); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if db.auditHead, err = db.db.PrepareContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_log WHERE tenant_id = ?`); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if db.namesRevision, err = db.db.PrepareContext(ctx, `SELECT rev FROM directory_name_revisions WHERE tenant_id = ?`); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	if db.getItem, err = db.db.PrepareContext(ctx, getItemQuery); err != nil {
		return fmt.Errorf("sqlite: prepare: %w", err)
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Ping reports whether the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return db.db.PingContext(ctx) }

// migrate applies the embedded migrations in name order, each in its own
// transaction, recording each in schema_migrations.
func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.applyMigration(ctx, name); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", name, err)
		}
	}
	return nil
}

func (db *DB) applyMigration(ctx context.Context, name string) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, db.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// MigrationsCurrent reports whether every embedded migration is applied.
func (db *DB) MigrationsCurrent(ctx context.Context) (bool, error) {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	var n int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name IN ('`+strings.Join(names, "','")+`')`).Scan(&n); err != nil {
		return false, err
	}
	return n == len(names), nil
}

// querier is what *sql.DB and *sql.Tx both offer, so that a helper runs
// inside a caller's transaction or on its own.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// affected is how many rows a statement changed, or its failure.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
