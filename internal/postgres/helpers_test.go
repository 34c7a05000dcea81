package postgres_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/pgtest"

	"github.com/teamsphone/portal/internal/postgres"
)

// The generic helpers live in internal/pgtest, shared with the
// tests of other packages that need PostgreSQL.
func serverURL(t testing.TB) string                 { return pgtest.ServerURL(t) }
func randomName(prefix string) string               { return pgtest.RandomName(prefix) }
func withParam(t testing.TB, u, k, v string) string { return pgtest.WithParam(t, u, k, v) }
func freshSchema(t testing.TB) string               { return pgtest.FreshSchema(t) }
func execSQL(t testing.TB, u, sql string, args ...any) error {
	return pgtest.Exec(t, u, sql, args...)
}

// asRole returns connURL connecting as role (trust or peer auth: no
// password).
func asRole(t testing.TB, connURL, role string) string {
	t.Helper()
	if strings.HasPrefix(connURL, "postgres://") || strings.HasPrefix(connURL, "postgresql://") {
		u, err := url.Parse(connURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(role)
		return u.String()
	}
	return withParam(t, connURL, "user", role)
}

// newRole creates a login role with a random name, dropped (with its
// privileges) when t ends.
func newRole(t testing.TB, prefix string) string {
	t.Helper()
	server := serverURL(t)
	role := randomName(prefix)
	if err := execSQL(t, server, `CREATE ROLE `+role+` LOGIN`); err != nil {
		t.Fatalf("create role: %v", err)
	}
	t.Cleanup(func() {
		if err := execSQL(t, server, `DROP OWNED BY `+role+`; DROP ROLE `+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	return role
}

// openAt migrates the schema connURL names and opens a store on it, closed
// when t ends.
func openAt(t testing.TB, connURL string, now func() time.Time) *postgres.DB {
	t.Helper()
	db, err := postgres.MigrateAndOpen(context.Background(), connURL, connURL, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openDB opens a store on a fresh schema.
func openDB(t testing.TB) *postgres.DB {
	t.Helper()
	return openAt(t, freshSchema(t), nil)
}
