package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/sessions"

	"github.com/teamsphone/portal/internal/portal"
)

// Session keys.
const (
	keyUser   = "user"
	keySignIn = "signin"
	keyFlash  = "flash"
	keyHeld   = "held" // a confirmation left for a fresh sign-in (fresh.go)
)

func init() {
	gob.Register(portal.User{})
	gob.Register([]portal.SignIn{})
	gob.Register([]Flash{})
	gob.Register(heldForm{})
}

// Flash is a one-time message shown on the next page.
type Flash struct {
	Kind    string // "success", "info" or "error"
	Message string
}

// SessionOptions shape the session cookie and its lifetime.
type SessionOptions struct {
	// Secure marks the cookie Secure and names it with the __Host- prefix
	// (serve mode, https). Dev mode on http loopback cannot use either.
	Secure bool
	// Idle ends a session not used for this long; Absolute ends it this long
	// after sign-in, used or not.
	Idle, Absolute time.Duration
}

// sessionStore is a gorilla/sessions Store that keeps everything on the
// server: the cookie holds only a random 256-bit key, and the database only
// that key's SHA-256. Logout deletes the row, so a copied cookie is dead.
type sessionStore struct {
	db      portal.SessionStore
	opts    SessionOptions
	now     func() time.Time
	log     *slog.Logger
	decoded decodedSessions
	tenants sessionTenants
}

// sessionTenants remembers whose tenant each recent session is, so that
// the next request of the session reads its tenant's audit head with the
// session itself (GetSessionAndHead): one database round trip where a
// list request made two. Sessions do not change tenant (a sign-in gets a
// new key); a wrong or missing guess only costs the list its own read.
type sessionTenants struct {
	mu sync.Mutex
	m  map[string]portal.GUID // key: the session key's hash
}

const maxSessionTenants = 4096

func (t *sessionTenants) get(keyHash []byte) (portal.GUID, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.m[string(keyHash)]
	return g, ok
}

func (t *sessionTenants) put(keyHash []byte, tenant portal.GUID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) >= maxSessionTenants {
		t.m = map[string]portal.GUID{}
	}
	t.m[string(keyHash)] = tenant
}

// seenHead is the audit head of a tenant read with the session, which
// New leaves in its values for loadSession to take out (never saved).
type seenHead struct {
	tenant portal.GUID
	head   int64
}

type seenHeadKey struct{}

// decodedSessions remembers what recent session records decode to. The
// record is still read from the database on every request (logout on any
// instance must end the session everywhere at once); only the gob decoding,
// which costs as much as the read, is skipped when the bytes are the same.
type decodedSessions struct {
	mu    sync.Mutex
	m     map[string]map[any]any // key: the record's bytes
	bytes int                    // of the keys, which the decoded values mirror
}

// The cache is bounded by entries and by bytes: a session that grows (it
// should not: see maxFlashes) must not multiply into memory.
const (
	maxDecodedSessions     = 4096
	maxDecodedSessionBytes = 4 << 20
)

// decode returns a fresh copy of the values data encodes: callers change
// sess.Values freely.
func (d *decodedSessions) decode(data []byte) (map[any]any, error) {
	d.mu.Lock()
	cached, ok := d.m[string(data)]
	d.mu.Unlock()
	if !ok {
		if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&cached); err != nil {
			return nil, err
		}
		d.mu.Lock()
		if d.m == nil || len(d.m) >= maxDecodedSessions || d.bytes+len(data) > maxDecodedSessionBytes {
			d.m, d.bytes = map[string]map[any]any{}, 0
		}
		if len(data) <= maxDecodedSessionBytes/64 {
			d.m[string(data)] = cached
			d.bytes += len(data)
		}
		d.mu.Unlock()
	}
	return maps.Clone(cached), nil
}

var _ sessions.Store = (*sessionStore)(nil)

func (s *sessionStore) cookieName() string {
	if s.opts.Secure {
		return "__Host-portal"
	}
	return "portal"
}

// Get returns the request's session, cached per request by gorilla's registry.
func (s *sessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie, or returns a fresh,
// empty one when there is none, or it is unknown, expired or unreadable. It
// never fails the request: a bad cookie is just an anonymous visitor.
func (s *sessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	sess.IsNew = true
	sess.Options = s.cookieOptions()
	c, err := r.Cookie(s.cookieName())
	if err != nil || len(c.Value) != 43 {
		return sess, nil
	}
	key := hashKey(c.Value)
	var rec portal.SessionRecord
	var head int64
	tenant, guessed := s.tenants.get(key)
	if guessed {
		rec, head, err = s.db.GetSessionAndHead(r.Context(), key, tenant)
	} else {
		rec, err = s.db.GetSession(r.Context(), key)
	}
	if err != nil {
		if portal.ErrorCode(err) != portal.ENOTFOUND {
			s.log.ErrorContext(r.Context(), "session load failed", "err", err)
		}
		return sess, nil
	}
	now := s.now()
	if now.Sub(rec.SeenAt) > s.opts.Idle || now.Sub(rec.CreatedAt) > s.opts.Absolute {
		s.db.DeleteSession(r.Context(), rec.KeyHash)
		return sess, nil
	}
	values, err := s.decoded.decode(rec.Data)
	if err != nil {
		s.log.WarnContext(r.Context(), "session unreadable; starting afresh", "err", err)
		return sess, nil
	}
	sess.Values = values
	sess.ID = c.Value
	sess.IsNew = false
	if u, ok := values[keyUser].(portal.User); ok && (!guessed || u.TenantID != tenant) && !u.TenantID.IsZero() {
		s.tenants.put(key, u.TenantID)
	}
	if guessed {
		sess.Values[seenHeadKey{}] = seenHead{tenant, head}
	}
	// Remember when it was last seen without a write per request: a minute
	// of idle-time precision is plenty.
	if now.Sub(rec.SeenAt) > time.Minute {
		rec.SeenAt = now
		s.db.PutSession(r.Context(), rec)
	}
	return sess, nil
}

// Save writes the session and its cookie. MaxAge < 0 deletes it.
func (s *sessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.db.DeleteSession(ctx, hashKey(sess.ID)); err != nil {
				return err
			}
		}
		http.SetCookie(w, s.cookie("", -1))
		return nil
	}
	now := s.now()
	rec := portal.SessionRecord{CreatedAt: now, SeenAt: now}
	if sess.ID != "" {
		if old, err := s.db.GetSession(ctx, hashKey(sess.ID)); err == nil {
			rec.CreatedAt = old.CreatedAt
		}
	} else {
		sess.ID = newKey()
	}
	rec.KeyHash = hashKey(sess.ID)
	delete(sess.Values, seenHeadKey{}) // loadSession's, should it still be there
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(sess.Values); err != nil {
		return err
	}
	rec.Data = buf.Bytes()
	if err := s.db.PutSession(ctx, rec); err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(sess.ID, 0))
	return nil
}

// renew gives the session a new key (at sign-in, against session fixation)
// and deletes the old one, keeping its values.
func (s *sessionStore) renew(ctx context.Context, sess *sessions.Session) {
	if sess.ID != "" {
		s.db.DeleteSession(ctx, hashKey(sess.ID))
	}
	sess.ID = ""
}

func (s *sessionStore) cookieOptions() *sessions.Options {
	return &sessions.Options{Path: "/", HttpOnly: true, Secure: s.opts.Secure, SameSite: http.SameSiteLaxMode}
}

// cookie is a session cookie (no Max-Age: it dies with the browser; the
// server enforces the idle and absolute timeouts).
func (s *sessionStore) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name:     s.cookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.opts.Secure,
		SameSite: http.SameSiteLaxMode,
	}
}

func newKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// PruneSessions deletes the sessions idle past the idle timeout, which no
// cookie can use any more, and reports how many went. Any instance may run
// it at any time: deleting twice is harmless.
func (s *Server) PruneSessions(ctx context.Context) (int, error) {
	return s.sessions.db.DeleteSessionsSeenBefore(ctx, s.deps.Now().Add(-s.deps.Session.Idle))
}
