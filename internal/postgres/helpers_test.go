package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/teamsphone/portal/internal/postgres"
)

// serverURL is the PostgreSQL server the tests use, from
// PORTAL_TEST_POSTGRES_URL. Without it the tests skip, except in CI, where
// they must run.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PORTAL_TEST_POSTGRES_URL")
	if u == "" {
		const how = "set PORTAL_TEST_POSTGRES_URL to a database the tests may create schemas and roles in, " +
			"e.g. PORTAL_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./internal/postgres/"
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run the PostgreSQL store tests: " + how)
		}
		t.Skip("PostgreSQL store tests skipped: " + how)
	}
	return u
}

// randomName is a fresh SQL identifier with the given prefix.
func randomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// withParam returns connURL (URL or key=value form) with one more
// connection parameter.
func withParam(t testing.TB, connURL, key, value string) string {
	t.Helper()
	if strings.HasPrefix(connURL, "postgres://") || strings.HasPrefix(connURL, "postgresql://") {
		u, err := url.Parse(connURL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return connURL + " " + key + "='" + value + "'"
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

// execSQL runs statements on a connection of its own to connURL.
func execSQL(t testing.TB, connURL, sql string, args ...any) error {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// freshSchema creates an empty schema with a random name, dropped when t
// ends, and returns the server URL with search_path set to it: every
// connection made with that URL works in it alone, so runs never collide.
func freshSchema(t testing.TB) string {
	t.Helper()
	server := serverURL(t)
	schema := randomName("portal_test_")
	if err := execSQL(t, server, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := execSQL(t, server, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withParam(t, server, "search_path", schema)
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
