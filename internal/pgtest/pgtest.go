// Package pgtest gives tests a PostgreSQL database of their own: a fresh
// schema on the server PORTAL_TEST_POSTGRES_URL names, dropped when the test
// ends. Without that variable tests skip with a message saying how to run
// them — except under CI=true, where they must run and fail instead.
// Tests only: it imports the testing package.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL is the PostgreSQL server the tests use, from
// PORTAL_TEST_POSTGRES_URL. Without it the test skips, except in CI, where
// it must run.
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PORTAL_TEST_POSTGRES_URL")
	if u == "" {
		const how = "set PORTAL_TEST_POSTGRES_URL to a database the tests may create schemas and roles in, " +
			"e.g. PORTAL_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:5432/test?sslmode=disable' go test ./..."
		if os.Getenv("CI") == "true" {
			t.Fatal("CI must run the PostgreSQL tests: " + how)
		}
		t.Skip("PostgreSQL tests skipped: " + how)
	}
	return u
}

// RandomName is a fresh SQL identifier with the given prefix.
func RandomName(prefix string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// WithParam returns connURL (URL or key=value form) with one more
// connection parameter.
func WithParam(t testing.TB, connURL, key, value string) string {
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

// Exec runs statements on a connection of its own to connURL.
func Exec(t testing.TB, connURL, sql string, args ...any) error {
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

// FreshSchema creates an empty schema with a random name, dropped when t
// ends, and returns the server URL with search_path set to it: every
// connection made with that URL works in it alone, so runs never collide.
func FreshSchema(t testing.TB) string {
	t.Helper()
	server := ServerURL(t)
	schema := RandomName("portal_test_")
	if err := Exec(t, server, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := Exec(t, server, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithParam(t, server, "search_path", schema)
}
