package main

import (
	"context"
	"flag"
	"fmt"
	"io"
)

// runMigrate applies the database migrations this binary knows and, for
// PostgreSQL, grants the portal's own role what it needs — so that a new
// version's schema is in place before its instances start (they refuse
// traffic, /readyz 503, until it is). With PostgreSQL it uses
// PORTAL_DATABASE_MIGRATION_URL, a role that owns the schema, and grants
// PORTAL_DATABASE_URL's role; each may be given as _FILE. With SQLite it
// simply opens the file, which migrates it.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	read := func(name string) string { return fileOrEnv(getenv, name) }
	d, err := parseDatabase(read("PORTAL_DATABASE_URL"))
	if err != nil {
		fmt.Fprintln(stderr, "portal migrate: PORTAL_DATABASE_URL:", err)
		return errUsage
	}
	if d.PostgresURL != "" {
		d.MigrationURL = read("PORTAL_DATABASE_MIGRATION_URL")
		if d.MigrationURL == "" {
			fmt.Fprintln(stderr, "portal migrate: PORTAL_DATABASE_MIGRATION_URL is missing: a postgres:// URL of a role that owns the schema")
			return errUsage
		}
	}
	db, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	current, err := db.MigrationsCurrent(ctx)
	if err != nil || !current {
		return fmt.Errorf("the migrations did not all apply (current: %v): %v", current, err)
	}
	fmt.Fprintln(stdout, "database schema current")
	return nil
}
