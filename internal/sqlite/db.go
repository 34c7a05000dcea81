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
	"github.com/teamsphone/portal/internal/storekit"
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
	// walkChunk is how many rows AllItems and WalkAudit read per query
	// (storekit.WalkChunk; smaller in tests, to cross chunk edges).
	walkChunk int
	// writes queues the small writes, committed in groups (writes.go).
	writes writeQueue
	// Prepared once: the queries every request runs. Parsing SQL costs more
	// than running these index probes, and database/sql re-prepares a
	// statement per connection only once.
	getSession *sql.Stmt
	// getSessionHead is getSession with auditHead's answer beside it.
	getSessionHead *sql.Stmt
	auditHead      *sql.Stmt
	namesRevision  *sql.Stmt
	getItem        *sql.Stmt // every change, and every row of a bulk job, reads its row first
}

// Options size the connection pool and SQLite's page cache. The zero value
// takes the defaults.
type Options struct {
	// MaxConns caps the connections open at once (0:
	// storekit.DefaultMaxConns, four per core up to 32; at least
	// MinConns). More than the cores buys little: the driver is pure Go
	// and CPU-bound, and readers in WAL mode do not wait for one another.
	// A request waits for a free connection rather than open one more.
	MaxConns int
	// CacheBytes is the page cache of all connections together, shared out
	// evenly among MaxConns (0: DefaultCacheBytes; each connection keeps at
	// least MinConnCacheBytes). Each connection has a cache of its own, and
	// SQLite empties it whenever another connection has written, so a large
	// one mostly holds memory: the list is answered from memory by the use
	// cases (internal/access), and the file's pages stay in the operating
	// system's cache anyway.
	CacheBytes int64
}

// Page cache defaults: 32 MiB in all (4 MiB a connection with 8).
const (
	DefaultCacheBytes int64 = 32 << 20
	MinConnCacheBytes int64 = 256 << 10
)

// MinConns is the fewest connections the pool may have: the group
// writer keeps one while writes keep coming (writes.go), and reads and
// the writes made alone need another.
const MinConns = 2

// WithDefaults returns o with every zero setting at its default, and
// MaxConns at least MinConns.
func (o Options) WithDefaults() Options {
	if o.MaxConns <= 0 {
		o.MaxConns = storekit.DefaultMaxConns()
	}
	o.MaxConns = max(o.MaxConns, MinConns)
	if o.CacheBytes <= 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	return o
}

// ConnCacheBytes is each connection's page cache: CacheBytes shared out
// among MaxConns, at least MinConnCacheBytes.
func (o Options) ConnCacheBytes() int64 {
	o = o.WithDefaults()
	return max(o.CacheBytes/int64(o.MaxConns), MinConnCacheBytes)
}

// Open opens the database at path with the default Options (see OpenWith).
func Open(ctx context.Context, path string) (*DB, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith opens (creating if needed) the database file at path and applies
// any migration not yet recorded. It sets WAL mode, foreign keys and a busy
// timeout, so concurrent requests wait for the writer instead of failing,
// and sizes the pool and page cache by opts: at most MaxConns connections,
// ConnCacheBytes of cache each.
func OpenWith(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: no database path")
	}
	opts = opts.WithDefaults()
	q := url.Values{}
	cache := fmt.Sprintf("cache_size(-%d)", opts.ConnCacheBytes()>>10) // negative: KiB, not pages
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(1)", "busy_timeout(10000)", "synchronous(NORMAL)", cache} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Keep every connection open between requests (database/sql keeps only
	// two idle by default): a new SQLite connection re-runs the pragmas and
	// re-prepares every statement.
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxConns)
	db := &DB{db: sqldb, Now: time.Now, writer: make(chan struct{}, 1), walkChunk: storekit.WalkChunk}
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
	if db.getSessionHead, err = db.db.PrepareContext(ctx, `SELECT data, created_at, seen_at,
		(SELECT coalesce(max(seq), 0) FROM audit_log WHERE tenant_id = ?) FROM sessions WHERE key_hash = ?`); err != nil {
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
