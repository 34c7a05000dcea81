package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/teamsphone/portal/internal/postgres"
)

// TestOpenDoesNotMigrate: Open leaves the schema alone, and a database
// never migrated is reported as not current rather than as an error.
func TestOpenDoesNotMigrate(t *testing.T) {
	ctx := context.Background()
	connURL := freshSchema(t)
	db, err := postgres.Open(ctx, connURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.MigrationsCurrent(ctx); err != nil || ok {
		t.Fatalf("fresh schema: current=%v err=%v; want false, nil", ok, err)
	}
	if err := postgres.Migrate(ctx, connURL); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.MigrationsCurrent(ctx); err != nil || !ok {
		t.Fatalf("after Migrate: current=%v err=%v", ok, err)
	}
}

// TestConcurrentMigrations: instances starting at once each migrate; every
// migration is applied and recorded once, and a later run finds nothing to
// do.
func TestConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	connURL := freshSchema(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := postgres.Migrate(ctx, connURL); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()
	if err := postgres.Migrate(ctx, connURL); err != nil {
		t.Fatal(err)
	}
	var rows, distinct int
	if err := queryRow(t, connURL, `SELECT count(*), count(DISTINCT name) FROM schema_migrations`, nil, &rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || rows < 4 {
		t.Errorf("schema_migrations: %d rows, %d distinct", rows, distinct)
	}
	db := openAt(t, connURL, nil)
	if ok, err := db.MigrationsCurrent(ctx); err != nil || !ok {
		t.Fatalf("current=%v err=%v", ok, err)
	}
}

// TestOpenFailsAtOnce: a database that cannot be reached stops Open, not
// the first request.
func TestOpenFailsAtOnce(t *testing.T) {
	serverURL(t)
	if _, err := postgres.Open(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", nil); err == nil {
		t.Fatal("Open of an unreachable database succeeded")
	}
}

// TestPoolSettingsInTheURL: the pool's settings may ride on the URL, as
// pgxpool reads them, and migrating and granting, which take one
// connection of their own, do not pass them to the server (which would
// refuse them as unknown parameters).
func TestPoolSettingsInTheURL(t *testing.T) {
	ctx := context.Background()
	owner := withParam(t, freshSchema(t), "pool_max_conns", "3")
	app := asRole(t, owner, newRole(t, "portal_app_"))
	db, err := postgres.MigrateAndOpen(ctx, owner, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ok, err := db.MigrationsCurrent(ctx); err != nil || !ok {
		t.Fatalf("current=%v err=%v", ok, err)
	}
}
