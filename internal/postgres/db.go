// Package postgres is the portal's shared store on PostgreSQL (jackc/pgx v5
// with pgxpool), for several portal instances behind a load balancer:
// sessions, the inventory, the hash-chained audit log, bulk plans and jobs,
// and the leases that serialise writes to one assignment. It meets the same
// contract as package sqlite (internal/storetest). All SQL lives here, next
// to the method that runs it; what both stores compute alike is
// internal/storekit's.
//
// # Migrations and roles
//
// Open never changes the schema. Migrate applies the embedded migrations
// (migrations/*.sql), each in one transaction, recorded in
// schema_migrations, while it holds a session-level advisory lock: instances
// starting at once apply each migration exactly once, the others wait.
//
// A production database has two roles. The migration role owns the schema
// and its tables and runs Migrate. The app role is what the portal runs as:
// GrantAppRole gives it full DML on every table but two, SELECT on
// schema_migrations, and only SELECT and INSERT on audit_log, so it cannot
// change or remove what the log holds. `portal serve` is to start with
//
//	db, err := postgres.MigrateAndOpen(ctx, migrationURL, appURL, now)
//
// which migrates as the migration role, grants the app role (the user of
// appURL) what it needs on the tables as they now are, and opens a pool as
// the app role. With one role (development, tests), pass the same URL twice.
// Both URLs must resolve the same schema (search_path, default public), and
// the schema must exist. The pool takes pgxpool's settings from the URL
// (pool_max_conns and so on), except that a URL naming no pool_max_conns
// gets storekit.DefaultMaxConns (four per core, 4 to 32) rather than
// pgxpool's own default (one per core, at least 4): see PoolConfig.
//
// # The audit log
//
// Besides the privileges, triggers refuse every UPDATE, DELETE and TRUNCATE
// of audit_log, whatever the role (the owner too), and an INSERT that does
// not follow the head citing its hash (see migrations/0003_audit_log.sql).
// An owner can drop the triggers; `portal audit verify` walks the chain and
// catches what changed then.
//
// # Concurrency
//
// AppendAudit and Commit take a transaction-level advisory lock keyed by the
// audit_log table before they read the head, so appends from every instance
// form one chain, and Seq order is commit order: a reader that sees head h
// has seen every row up to h. Jobs and job rows are taken with FOR UPDATE
// SKIP LOCKED; a lock (Locker) is a row with a lease, taken or refused by
// one INSERT … ON CONFLICT statement.
//
// # Text and time
//
// PostgreSQL text holds neither invalid UTF-8 nor NUL: both become U+FFFD
// before anything is written (audit rows before they are sealed, so they
// verify as read back). Times are written truncated to the millisecond and
// read back in UTC, exactly as the SQLite store keeps them.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/storekit"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys (the two-key form, so they cannot collide with an
// application's one-key locks). The audit lock's second key is audit_log's
// table OID: schemas in one database have their own chains, and their own
// locks.
const (
	lockClassMigrate = 0x706f7274 // "port"
	migrateLockKey   = 1
	lockClassAudit   = 0x61756474 // "audt"
)

var _ portal.Store = (*DB)(nil) // and SessionStore, TokenCacheStore: see internal/portal

// DB is the portal's PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	// now is the clock for lock leases (injected in tests).
	now func() time.Time
	// walkChunk is how many rows AllItems and WalkAudit read per query
	// (storekit.WalkChunk; smaller in tests, to cross chunk edges).
	walkChunk int
}

// PoolConfig is the pool Open makes for url (postgres://… or key=value
// form): pgxpool's settings from it, and, unless it names pool_max_conns,
// storekit.DefaultMaxConns connections at most. A request finding them all
// in use waits for one. Each portal instance holds its own pool: the
// server's max_connections must allow instances × MaxConns, and more.
func PoolConfig(url string) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !namesPoolSize.MatchString(url) {
		cfg.MaxConns = int32(storekit.DefaultMaxConns())
	}
	return cfg, nil
}

// namesPoolSize matches a connection string naming pool_max_conns, as a
// URL's query parameter or a key=value setting.
var namesPoolSize = regexp.MustCompile(`(^|[?&\s])pool_max_conns\s*=`)

// Open connects a pool to url (see PoolConfig) and checks that the
// database answers. It does not migrate: see Migrate and MigrateAndOpen.
// now is the clock for lock leases (nil: time.Now).
func Open(ctx context.Context, url string, now func() time.Time) (*DB, error) {
	cfg, err := PoolConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// pgxpool connects lazily; a wrong host or password should stop the
	// portal at start, not fail its first request.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	if now == nil {
		now = time.Now
	}
	return &DB{pool: pool, now: now, walkChunk: storekit.WalkChunk}, nil
}

// MigrateAndOpen migrates the database as migrationURL's role, grants
// appURL's role what the portal needs (see GrantAppRole) when the two roles
// differ, and opens a pool as appURL's role. appURL "" means migrationURL.
func MigrateAndOpen(ctx context.Context, migrationURL, appURL string, now func() time.Time) (*DB, error) {
	if appURL == "" {
		appURL = migrationURL
	}
	if err := Migrate(ctx, migrationURL); err != nil {
		return nil, err
	}
	owner, err := pgxpool.ParseConfig(migrationURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	app, err := pgxpool.ParseConfig(appURL)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if app.ConnConfig.User != owner.ConnConfig.User {
		// Every start, not once: a migration may have added a table.
		if err := GrantAppRole(ctx, migrationURL, app.ConnConfig.User); err != nil {
			return nil, err
		}
	}
	return Open(ctx, appURL, now)
}

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the database answers (for /readyz).
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// migrationNames returns the embedded migrations' file names in the order
// they apply.
func migrationNames() []string {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	for i, n := range names {
		names[i] = path.Base(n)
	}
	sort.Strings(names)
	return names
}

// Migrate applies every embedded migration not yet recorded in
// schema_migrations, in name order, each in its own transaction with its
// record. It holds a session-level advisory lock throughout, so several
// instances migrating at once apply each migration once; the others wait
// and then find nothing to do.
func Migrate(ctx context.Context, url string) error {
	conn, err := connect(ctx, url)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClassMigrate, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	// Closing the connection releases the lock too; unlocking keeps a
	// pooled connection (pgbouncer in session mode) from holding it.
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClassMigrate, migrateLockKey)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name       text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	for _, name := range migrationNames() {
		if err := applyMigration(ctx, conn, name); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *pgx.Conn, name string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	var done bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE name = $1)`, name).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	body, err := migrations.ReadFile("migrations/" + name)
	if err != nil {
		return err
	}
	// No arguments: pgx sends it with the simple protocol, which runs a
	// file of several statements.
	if _, err := tx.Exec(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (name) VALUES ($1)`, name); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// MigrationsCurrent reports whether every embedded migration is applied. A
// database never migrated (no schema_migrations) is not current, and not
// an error.
func (db *DB) MigrationsCurrent(ctx context.Context) (bool, error) {
	names := migrationNames()
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ANY($1)`, names).Scan(&n)
	if pgCode(err) == "42P01" { // undefined_table
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return n == len(names), nil
}

// GrantAppRole connects as migrationURL's role (the tables' owner) and, in
// one transaction, grants role what the portal needs on the schema that URL
// resolves: USAGE on the schema; SELECT and INSERT on audit_log and
// audit_checkpoints and nothing else there (any other privilege it held is
// revoked), so it can append to them but never change, delete or truncate
// them; SELECT on
// schema_migrations (readiness reads it); and SELECT, INSERT, UPDATE,
// DELETE on every other table. It is idempotent; run it after migrating, as
// MigrateAndOpen does, so tables added by a migration are granted too. The
// role must exist.
func GrantAppRole(ctx context.Context, migrationURL, role string) error {
	if role == "" {
		return errors.New("postgres: grant: no role named")
	}
	conn, err := connect(ctx, migrationURL)
	if err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	defer tx.Rollback(ctx)
	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	if schema == nil {
		return errors.New("postgres: grant: the URL's search_path names no existing schema")
	}
	rows, err := tx.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, *schema)
	if err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	who := pgx.Identifier{role}.Sanitize()
	stmts := []string{`GRANT USAGE ON SCHEMA ` + pgx.Identifier{*schema}.Sanitize() + ` TO ` + who}
	for _, table := range tables {
		t := pgx.Identifier{*schema, table}.Sanitize()
		switch table {
		case "audit_log", "audit_checkpoints":
			stmts = append(stmts, `REVOKE ALL ON `+t+` FROM `+who, `GRANT SELECT, INSERT ON `+t+` TO `+who)
		case "schema_migrations":
			stmts = append(stmts, `REVOKE ALL ON `+t+` FROM `+who, `GRANT SELECT ON `+t+` TO `+who)
		default:
			stmts = append(stmts, `GRANT SELECT, INSERT, UPDATE, DELETE ON `+t+` TO `+who)
		}
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: grant: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: grant: %w", err)
	}
	return nil
}

// connect opens one connection to url, which may hold the pool's settings
// (pool_max_conns and so on): they are the pool's, and the server would
// refuse them as unknown parameters.
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

// inTx runs fn in a transaction and commits it; what names the work in the
// error a person sees.
func (db *DB) inTx(ctx context.Context, what string, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return storekit.Unavailable(err, what)
	}
	defer tx.Rollback(ctx)
	if err := fn(tx); err != nil {
		return storekit.Failed(err, what)
	}
	return storekit.Unavailable(tx.Commit(ctx), what)
}

// snapshot is a read-only transaction whose statements all read one
// snapshot, so that a page's count and rows agree.
var snapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// pgCode is the SQLSTATE of a server error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// querier is what a pool and a transaction both offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// params collects a statement's arguments and names their placeholders.
type params []any

// add appends v and returns its placeholder ($1, $2, …).
func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// sqlLimit is a LIMIT as the SQLite store reads one: negative means none.
func sqlLimit(n int) any {
	if n < 0 {
		return nil // LIMIT NULL: no limit
	}
	return n
}
