package entra

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"

	"github.com/teamsphone/portal/internal/portal"
)

// Sealer seals a session's MSAL token cache before it reaches the database
// (AES-256-GCM under a key from configuration), bound to that session: the
// session's key hash is the additional data, so a sealed cache copied into
// another session's row, or changed, does not open.
type Sealer struct{ aead cipher.AEAD }

// sealVersion leads every sealed cache, so the format can change later.
const sealVersion = 1

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, portal.Errorf(portal.EINVALID, "The token cache key must be 32 bytes (base64 of 32 random bytes); it is %d.", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain for the session keyHash: version, nonce, ciphertext.
func (s *Sealer) Seal(keyHash, plain []byte) []byte {
	out := make([]byte, 1+s.aead.NonceSize(), 1+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	out[0] = sealVersion
	rand.Read(out[1:])
	return s.aead.Seal(out, out[1:], plain, keyHash)
}

// Open decrypts what Seal made for the same session.
func (s *Sealer) Open(keyHash, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < 1+n || sealed[0] != sealVersion {
		return nil, errors.New("entra: not a sealed token cache")
	}
	plain, err := s.aead.Open(nil, sealed[1:1+n], sealed[1+n:], keyHash)
	if err != nil {
		return nil, errors.New("entra: the token cache does not open for this session (another key, another session, or changed)")
	}
	return plain, nil
}

// sessionCache is MSAL's token cache for one session, kept sealed in the
// database: MSAL loads it (Replace) before a token request and saves it
// (Export) after. One MSAL client serves one session at a time — MSAL's
// in-memory cache is not safe to share between sessions.
type sessionCache struct {
	store   portal.TokenCacheStore
	sealer  *Sealer
	keyHash []byte
}

var _ cache.ExportReplace = sessionCache{}

// Replace loads the session's cache; a session without one (or whose cache
// no longer opens: the key was rotated) starts empty.
func (c sessionCache) Replace(ctx context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	sealed, err := c.store.GetTokenCache(ctx, c.keyHash)
	switch {
	case portal.ErrorCode(err) == portal.ENOTFOUND:
		return u.Unmarshal([]byte("{}"))
	case err != nil:
		return err
	}
	plain, err := c.sealer.Open(c.keyHash, sealed)
	if err != nil {
		return u.Unmarshal([]byte("{}"))
	}
	return u.Unmarshal(plain)
}

// Export seals and saves the session's cache.
func (c sessionCache) Export(ctx context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	plain, err := m.Marshal()
	if err != nil {
		return err
	}
	return c.store.PutTokenCache(ctx, c.keyHash, c.sealer.Seal(c.keyHash, plain))
}

// heldCache holds one sign-in's token cache in memory, from the code's
// redemption until KeepTokens files it under the new session.
type heldCache struct{ data []byte }

func (h *heldCache) Replace(_ context.Context, u cache.Unmarshaler, _ cache.ReplaceHints) error {
	if h.data == nil {
		return u.Unmarshal([]byte("{}"))
	}
	return u.Unmarshal(h.data)
}

func (h *heldCache) Export(_ context.Context, m cache.Marshaler, _ cache.ExportHints) error {
	b, err := m.Marshal()
	if err == nil {
		h.data = b
	}
	return err
}

// KeepTokens seals a sign-in's tokens (from CompleteSignIn) and files them
// under the session they now belong to. Nothing to keep (Graph off) is no
// error.
func (a *Authenticator) KeepTokens(ctx context.Context, sessionKeyHash []byte, t portal.SignInTokens) error {
	if a.cfg.Graph == nil || len(t) == 0 {
		return nil
	}
	return a.cfg.Graph.Caches.PutTokenCache(ctx, sessionKeyHash, a.cfg.Graph.Sealer.Seal(sessionKeyHash, t))
}

// GraphToken returns an access token for Microsoft Graph as the signed-in
// person u of session sessionKeyHash: the cached one, or a new one from
// the refresh token (MSAL decides), the session's cache saved again after.
// EUNAUTHORIZED when the session holds no usable tokens (signed in before
// Graph was turned on, or consent withdrawn): signing in again helps.
func (a *Authenticator) GraphToken(ctx context.Context, sessionKeyHash []byte, u portal.User) (string, error) {
	g := a.cfg.Graph
	if g == nil {
		return "", portal.Errorf(portal.EUNAVAILABLE, "Names from Microsoft Graph are not turned on.")
	}
	memoKey := string(sessionKeyHash) + "|" + u.TenantID.String() + "|" + u.ObjectID.String()
	if token, ok := a.graphTokens.get(memoKey, a.cfg.Now()); ok {
		return token, nil
	}
	app, err := a.client(sessionCache{store: g.Caches, sealer: g.Sealer, keyHash: sessionKeyHash})
	if err != nil {
		return "", err
	}
	// MSAL names accounts "<object ID>.<tenant ID>" (client_info's uid.utid).
	acct, err := app.Account(ctx, u.ObjectID.String()+"."+u.TenantID.String())
	if err != nil || acct.HomeAccountID == "" {
		return "", portal.Wrap(errors.Join(err, errors.New("no account in the session's cache")), portal.EUNAUTHORIZED,
			"Your sign-in holds no permission to read names from Microsoft Graph; sign in again.")
	}
	res, err := app.AcquireTokenSilent(ctx, g.Scopes, confidential.WithSilentAccount(acct), confidential.WithTenantID(u.TenantID.String()))
	if err != nil {
		return "", portal.Wrap(errors.New(sanitize(err)), portal.EUNAUTHORIZED, "Microsoft Entra ID did not renew your permission to read names; sign in again.")
	}
	a.graphTokens.put(memoKey, res.AccessToken, res.ExpiresOn, a.cfg.Now())
	return res.AccessToken, nil
}

// ForgetTokens drops the session's remembered Graph tokens: see
// portal.Authenticator.
func (a *Authenticator) ForgetTokens(sessionKeyHash []byte) {
	a.graphTokens.forget(string(sessionKeyHash) + "|")
}

// tokenMemo holds access tokens in memory only, by session and person,
// each until tokenMargin before it expires. A signed-out session's token
// is never asked for again (its key hash is gone) and ages out.
type tokenMemo struct {
	mu sync.Mutex
	m  map[string]memoToken
}

type memoToken struct {
	token   string
	expires time.Time
}

// tokenMargin is how long before its expiry a token is no longer handed
// out: a call made with it must not fail half-way.
const tokenMargin = 5 * time.Minute

// maxMemoTokens bounds the memo (one entry per active session).
const maxMemoTokens = 10000

func (t *tokenMemo) get(key string, now time.Time) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[key]
	if !ok || !now.Add(tokenMargin).Before(e.expires) {
		return "", false
	}
	return e.token, true
}

func (t *tokenMemo) put(key, token string, expires, now time.Time) {
	if token == "" || !now.Add(tokenMargin).Before(expires) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]memoToken{}
	}
	if len(t.m) >= maxMemoTokens {
		for k, e := range t.m {
			if !now.Add(tokenMargin).Before(e.expires) {
				delete(t.m, k)
			}
		}
		for k := range t.m { // still full: make room (map order is random)
			if len(t.m) < maxMemoTokens {
				break
			}
			delete(t.m, k)
		}
	}
	t.m[key] = memoToken{token: token, expires: expires}
}

// forget drops the entries whose key starts with prefix.
func (t *tokenMemo) forget(prefix string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.m {
		if strings.HasPrefix(k, prefix) {
			delete(t.m, k)
		}
	}
}
