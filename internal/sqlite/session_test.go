package sqlite_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
	"github.com/teamsphone/portal/internal/sqlite"
)

func openDB(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "portal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSessions(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	key := []byte("0123456789abcdef0123456789abcdef")

	if _, err := db.GetSession(ctx, key); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("missing session: %v", err)
	}
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: key, Data: []byte("a"), CreatedAt: t0, SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	// Replacing keeps the creation time: the absolute timeout counts from it.
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: key, Data: []byte("b"), CreatedAt: t0.Add(time.Hour), SeenAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	s, err := db.GetSession(ctx, key)
	if err != nil || !bytes.Equal(s.Data, []byte("b")) || !s.CreatedAt.Equal(t0) || !s.SeenAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("got %+v, %v", s, err)
	}
	if n, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(30*time.Second)); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if n, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if err := db.DeleteSession(ctx, key); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}
}

func TestMigrationsAreRecordedOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "portal.db")
	for range 2 {
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := db.MigrationsCurrent(context.Background())
		if err != nil || !ok {
			t.Fatalf("current=%v err=%v", ok, err)
		}
		db.Close()
	}
}
