package entra

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

	"github.com/teamsphone/portal/internal/portal"
)

func TestSealer(t *testing.T) {
	s, err := NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, b := []byte("session-a-hash"), []byte("session-b-hash")
	sealed := s.Seal(a, []byte(`{"AccessToken":{"x":"secret-token"}}`))
	if bytes.Contains(sealed, []byte("secret-token")) {
		t.Fatal("the sealed cache holds the token in clear")
	}
	if plain, err := s.Open(a, sealed); err != nil || !strings.Contains(string(plain), "secret-token") {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	if _, err := s.Open(b, sealed); err == nil {
		t.Error("another session's cache opened")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(a, tampered); err == nil {
		t.Error("a changed cache opened")
	}
	other, _ := NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(a, sealed); err == nil {
		t.Error("a cache opened under another key")
	}
	if _, err := NewSealer([]byte("short")); portal.ErrorCode(err) != portal.EINVALID {
		t.Errorf("a short key: %v", err)
	}
	if bytes.Equal(s.Seal(a, []byte("x")), s.Seal(a, []byte("x"))) {
		t.Error("two seals of the same cache are equal: the nonce is not fresh")
	}
}

// memCaches is a TokenCacheStore in memory.
type memCaches map[string][]byte

func (m memCaches) GetTokenCache(_ context.Context, k []byte) ([]byte, error) {
	if v, ok := m[string(k)]; ok {
		return v, nil
	}
	return nil, portal.Errorf(portal.ENOTFOUND, "none")
}

func (m memCaches) PutTokenCache(_ context.Context, k, v []byte) error {
	m[string(k)] = v
	return nil
}

type blob struct{ data []byte }

func (b *blob) Marshal() ([]byte, error) { return b.data, nil }
func (b *blob) Unmarshal(d []byte) error { b.data = d; return nil }

func TestSessionCache(t *testing.T) {
	ctx := context.Background()
	sealer, _ := NewSealer(bytes.Repeat([]byte{7}, 32))
	store := memCaches{}
	a := sessionCache{store: store, sealer: sealer, keyHash: []byte("a")}
	b := sessionCache{store: store, sealer: sealer, keyHash: []byte("b")}
	got := &blob{}
	if err := a.Replace(ctx, got, cacheReplaceHints()); err != nil || string(got.data) != "{}" {
		t.Fatalf("a new session's cache = %q, %v; want empty", got.data, err)
	}
	if err := a.Export(ctx, &blob{data: []byte(`{"tokens":"of a"}`)}, cacheExportHints()); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(store["a"], []byte("of a")) {
		t.Error("the store holds the cache in clear")
	}
	if err := a.Replace(ctx, got, cacheReplaceHints()); err != nil || string(got.data) != `{"tokens":"of a"}` {
		t.Errorf("reloaded = %q, %v", got.data, err)
	}
	// Session b never sees a's tokens, even given a's row.
	store["b"] = store["a"]
	if err := b.Replace(ctx, got, cacheReplaceHints()); err != nil || string(got.data) != "{}" {
		t.Errorf("session b with a's sealed cache = %q, %v; want empty", got.data, err)
	}
}

func cacheReplaceHints() cache.ReplaceHints { return cache.ReplaceHints{} }
func cacheExportHints() cache.ExportHints   { return cache.ExportHints{} }

// Graph tokens are remembered until shortly before they expire, by session
// and person, and the memo stays bounded.
func TestTokenMemo(t *testing.T) {
	var m tokenMemo
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m.put("s1|t|o", "tok", now.Add(time.Hour), now)
	if got, ok := m.get("s1|t|o", now.Add(50*time.Minute)); !ok || got != "tok" {
		t.Errorf("within its life: %q %v", got, ok)
	}
	if _, ok := m.get("s1|t|o", now.Add(56*time.Minute)); ok {
		t.Error("handed out within 5 minutes of its expiry")
	}
	if _, ok := m.get("s2|t|o", now); ok {
		t.Error("another session's token")
	}
	m.put("short", "tok", now.Add(time.Minute), now)
	if _, ok := m.get("short", now); ok {
		t.Error("a token about to expire was kept")
	}
	for i := range maxMemoTokens + 10 {
		m.put(fmt.Sprint(i), "tok", now.Add(time.Hour), now)
	}
	if len(m.m) > maxMemoTokens {
		t.Errorf("memo holds %d tokens", len(m.m))
	}
}
