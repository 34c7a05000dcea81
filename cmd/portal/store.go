package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/postgres"
	"github.com/teamsphone/portal/internal/sqlite"
)

// store is what the portal needs of its database; both SQLite (one
// instance) and PostgreSQL (several) provide it.
type store interface {
	portal.Store
	portal.SessionStore
	portal.TokenCacheStore
	readyStore
	AuditRows(ctx context.Context) (int64, error)
	SessionCount(ctx context.Context) (int64, error)
	ActiveJobRows(ctx context.Context) (map[string]int64, error)
	Close() error
}

var (
	_ store = (*sqlite.DB)(nil)
	_ store = (*postgres.DB)(nil)
)

// database says which database to use, from PORTAL_DATABASE_URL.
type database struct {
	SQLitePath string // sqlite:PATH
	// SQLite sizes SQLite's connection pool and page cache, from the URL's
	// settings: sqlite:PATH?pool_max_conns=N&cache_mib=M.
	SQLite      sqlite.Options
	PostgresURL string // postgres://… as the portal's own (app) role; its pool from pool_max_conns
	// MigrationURL, for PostgreSQL, is a role that owns the schema: when
	// set, the portal migrates at start and grants PostgresURL's role what
	// it needs; otherwise it only checks that the schema is current.
	MigrationURL string
}

// parseDatabase reads a database URL: sqlite:PATH (or sqlite:///PATH),
// with settings after a ? (see sqliteOptions), or postgres://… /
// postgresql://…, whose settings pgx reads.
func parseDatabase(v string) (database, error) {
	switch {
	case v == "":
		return database{}, errors.New("no database given")
	case strings.HasPrefix(v, "sqlite:"):
		p, settings, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//"), "?")
		if p == "" {
			return database{}, errors.New("sqlite: needs a file path, like sqlite:/var/lib/portal/portal.db")
		}
		opts, err := sqliteOptions(settings)
		if err != nil {
			return database{}, err
		}
		return database{SQLitePath: p, SQLite: opts}, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		return database{PostgresURL: v}, nil
	}
	return database{}, errors.New("the database URL must start with sqlite: or postgres://")
}

// sqliteOptions reads a sqlite: URL's settings, named as pgxpool names
// PostgreSQL's where they are alike: pool_max_conns, the connections open
// at most (at least sqlite.MinConns), and cache_mib, the page cache of
// them all in MiB. Each is a whole number above 0; one left out takes the
// store's default.
func sqliteOptions(settings string) (sqlite.Options, error) {
	var o sqlite.Options
	q, err := url.ParseQuery(settings)
	if err != nil {
		return o, errors.New("sqlite: the settings after ? must be name=value pairs joined by &")
	}
	for name, vs := range q {
		n, err := strconv.Atoi(vs[len(vs)-1])
		switch {
		case name != "pool_max_conns" && name != "cache_mib":
			return o, fmt.Errorf("sqlite: no setting is called %q (there are pool_max_conns and cache_mib)", name)
		case err != nil || n <= 0:
			return o, fmt.Errorf("sqlite: %s must be a whole number above 0", name)
		case name == "pool_max_conns" && n < sqlite.MinConns:
			return o, fmt.Errorf("sqlite: pool_max_conns must be at least %d: one connection writes while another reads", sqlite.MinConns)
		case name == "pool_max_conns":
			o.MaxConns = n
		default:
			o.CacheBytes = int64(n) << 20
		}
	}
	return o, nil
}

// pool says in words how large the database's connection pool and cache
// are, defaults applied.
func (d database) pool() string {
	switch {
	case d.SQLitePath != "":
		o := d.SQLite.WithDefaults()
		return fmt.Sprintf("SQLite: %d connections at most (pool_max_conns), a page cache of %d MiB in all (cache_mib), %d KiB each",
			o.MaxConns, o.CacheBytes>>20, o.ConnCacheBytes()>>10)
	case d.PostgresURL != "":
		cfg, err := postgres.PoolConfig(d.PostgresURL)
		if err != nil {
			return "(PostgreSQL: the URL cannot be read)"
		}
		return fmt.Sprintf("PostgreSQL: %d connections at most (pool_max_conns)", cfg.MaxConns)
	}
	return "(no database)"
}

// open opens the database; SQLite migrates itself, PostgreSQL when given a
// migration role (see database.MigrationURL).
func (d database) open(ctx context.Context) (store, error) {
	switch {
	case d.SQLitePath != "":
		db, err := sqlite.OpenWith(ctx, d.SQLitePath, d.SQLite)
		if err != nil {
			return nil, err
		}
		return db, nil
	case d.MigrationURL != "":
		db, err := postgres.MigrateAndOpen(ctx, d.MigrationURL, d.PostgresURL, nil)
		if err != nil {
			return nil, err
		}
		return db, nil
	case d.PostgresURL != "":
		db, err := postgres.Open(ctx, d.PostgresURL, nil)
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	return nil, fmt.Errorf("no database given")
}
