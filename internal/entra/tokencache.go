package entra

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"

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
