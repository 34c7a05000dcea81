package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// SessionStores is what RunTokenCaches needs: sessions and their token
// caches in one database.
type SessionStores interface {
	portal.SessionStore
	portal.TokenCacheStore
}

// RunTokenCaches is the contract for token caches: kept per session,
// replaced in place, never outliving their session.
func RunTokenCaches(t *testing.T, open func(t *testing.T) SessionStores) {
	ctx := context.Background()
	db := open(t)
	a, b := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, k := range [][]byte{a, b} {
		if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: k, Data: []byte("x"), CreatedAt: t0, SeenAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.GetTokenCache(ctx, a); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("a session without a cache: %v, want not found", err)
	}
	if err := db.PutTokenCache(ctx, a, []byte("sealed-1")); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTokenCache(ctx, a, []byte("sealed-2")); err != nil {
		t.Fatal(err)
	}
	if err := db.PutTokenCache(ctx, b, []byte("other")); err != nil {
		t.Fatal(err)
	}
	if got, err := db.GetTokenCache(ctx, a); err != nil || string(got) != "sealed-2" {
		t.Errorf("GetTokenCache(a) = %q, %v; want the latest", got, err)
	}
	// Saving the session again keeps its cache.
	if err := db.PutSession(ctx, portal.SessionRecord{KeyHash: a, Data: []byte("y"), CreatedAt: t0, SeenAt: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetTokenCache(ctx, a); string(got) != "sealed-2" {
		t.Errorf("saving the session lost its cache: %q", got)
	}
	// Sign-out removes the cache; a cache for an ended session is refused.
	if err := db.DeleteSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetTokenCache(ctx, a); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("cache after sign-out: %v, want not found", err)
	}
	if err := db.PutTokenCache(ctx, a, []byte("late")); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("a cache for an ended session: %v, want not found", err)
	}
	// Pruning idle sessions removes theirs too.
	if _, err := db.DeleteSessionsSeenBefore(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetTokenCache(ctx, b); portal.ErrorCode(err) != portal.ENOTFOUND {
		t.Errorf("cache of a pruned session: %v, want not found", err)
	}
}
