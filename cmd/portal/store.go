package main

import (
	"context"
	"errors"
	"fmt"
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
	SQLitePath  string // sqlite:PATH
	PostgresURL string // postgres://… as the portal's own (app) role
	// MigrationURL, for PostgreSQL, is a role that owns the schema: when
	// set, the portal migrates at start and grants PostgresURL's role what
	// it needs; otherwise it only checks that the schema is current.
	MigrationURL string
}

// parseDatabase reads a database URL: sqlite:PATH (or sqlite:///PATH) or
// postgres://… / postgresql://….
func parseDatabase(v string) (database, error) {
	switch {
	case v == "":
		return database{}, errors.New("no database given")
	case strings.HasPrefix(v, "sqlite:"):
		p := strings.TrimPrefix(strings.TrimPrefix(v, "sqlite:"), "//")
		if p == "" {
			return database{}, errors.New("sqlite: needs a file path, like sqlite:/var/lib/portal/portal.db")
		}
		return database{SQLitePath: p}, nil
	case strings.HasPrefix(v, "postgres://"), strings.HasPrefix(v, "postgresql://"):
		return database{PostgresURL: v}, nil
	}
	return database{}, errors.New("the database URL must start with sqlite: or postgres://")
}

// open opens the database; SQLite migrates itself, PostgreSQL when given a
// migration role (see database.MigrationURL).
func (d database) open(ctx context.Context) (store, error) {
	switch {
	case d.SQLitePath != "":
		db, err := sqlite.Open(ctx, d.SQLitePath)
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
