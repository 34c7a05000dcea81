package postgres_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

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
	if s.SeenAt.Location() != time.UTC {
		t.Errorf("times read back in %v, want UTC", s.SeenAt.Location())
	}
	if n, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(30*time.Second)); err != nil || n != 0 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if n, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("pruned %d, %v", n, err)
	}
	if _, err := db.GetSession(ctx, key); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("pruned session: %v", err)
	}
	if err := db.DeleteSession(ctx, key); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}
	// Binary keys and data, and an ended session.
	bin := []byte{0, 0xff, 0xfe, 0}
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: bin, Data: bin, CreatedAt: t0, SeenAt: t0}); err != nil {
		t.Fatal(err)
	}
	if s, err := db.GetSession(ctx, bin); err != nil || !bytes.Equal(s.Data, bin) {
		t.Fatalf("binary session: %+v, %v", s, err)
	}
	if err := db.DeleteSession(ctx, bin); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetSession(ctx, bin); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Fatalf("deleted session: %v", err)
	}
}
