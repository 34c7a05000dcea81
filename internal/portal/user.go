package portal

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"
)

// Role is a portal role, granted as an Entra app role. The values are the
// app roles' "value" strings and are matched exactly: "portal.admin" or
// " Portal.Admin" is no role at all.
type Role string

const (
	RoleAdmin    Role = "Portal.Admin"    // everything
	RoleHelpdesk Role = "Portal.Helpdesk" // user assignments only
	RoleAuditor  Role = "Portal.Auditor"  // read only
)

// AllRoles lists the roles in order of power.
var AllRoles = []Role{RoleAdmin, RoleHelpdesk, RoleAuditor}

// RolesFromClaim keeps the claim values that are exactly a known role, once
// each, in the order of AllRoles. Unknown values are dropped, not errors:
// an Entra app may define roles the portal does not use.
func RolesFromClaim(values []string) []Role { return RoleNames(nil).FromClaim(values) }

// RoleNames maps each role to the app role value the Entra app registration
// uses for it, where an organisation named its app roles otherwise ("Admin"
// instead of "Portal.Admin"). A role not in the map keeps its own name.
type RoleNames map[Role]string

// FromClaim is RolesFromClaim under these names: the claim values that are
// exactly a role's name, once each, in the order of AllRoles.
func (n RoleNames) FromClaim(values []string) []Role {
	var out []Role
	for _, r := range AllRoles {
		name := string(r)
		if v, ok := n[r]; ok {
			name = v
		}
		if slices.Contains(values, name) {
			out = append(out, r)
		}
	}
	return out
}

// Label is the role as people read it.
func (r Role) Label() string {
	switch r {
	case RoleAdmin:
		return "Admin"
	case RoleHelpdesk:
		return "Helpdesk"
	case RoleAuditor:
		return "Auditor"
	}
	return string(r)
}

// User is a signed-in person. Identity is (TenantID, ObjectID), never the
// name or UPN, which can change or be reused.
type User struct {
	TenantID GUID
	ObjectID GUID
	Name     string
	UPN      string // preferred_username: for display only
	Roles    []Role
	// AuthTime is when the person last proved who they are to Entra: the
	// verified ID token's auth_time, zero when the token had none.
	AuthTime time.Time
}

// ErrSignInNotFresh is inside the EFORBIDDEN error of an act that asks for
// a recent sign-in (revoking a resource account, applying a bulk plan that
// revokes) when the person's last one is older than the window, or unknown.
var ErrSignInNotFresh = errors.New("a fresh sign-in is needed")

// signInClockSkew is how far in the future an auth_time may lie and still
// count: Entra's clock and the portal's differ by a little.
const signInClockSkew = 5 * time.Minute

// SignedInWithin reports whether u proved who they are to Entra at most
// window before now. An unknown AuthTime (the token had no auth_time) is
// never recent, nor is one further in the future than clocks drift.
func (u User) SignedInWithin(now time.Time, window time.Duration) bool {
	if u.AuthTime.IsZero() || u.AuthTime.After(now.Add(signInClockSkew)) {
		return false
	}
	return now.Sub(u.AuthTime) <= window
}

// SameIdentity reports whether u and v are the same person: the same
// tenant and object ID, whatever their names or roles.
func (u User) SameIdentity(v User) bool {
	return u.TenantID == v.TenantID && u.ObjectID == v.ObjectID && !u.ObjectID.IsZero()
}

// Has reports whether u holds role r.
func (u User) Has(r Role) bool { return slices.Contains(u.Roles, r) }

// HasAny reports whether u holds at least one of roles.
func (u User) HasAny(roles ...Role) bool {
	for _, r := range roles {
		if u.Has(r) {
			return true
		}
	}
	return false
}

// PrimaryRole is the most powerful role u holds, or "" for none.
func (u User) PrimaryRole() Role {
	if len(u.Roles) == 0 {
		return ""
	}
	return u.Roles[0]
}

// SignInTokens are the tokens a sign-in obtained beyond the ID token
// (delegated Graph permission), in the provider's own cache format: handed
// from the sign-in to the new session's sealed store, never to a page, a
// cookie or a log.
type SignInTokens []byte

// SessionRecord is a server-side session as stored. The cookie carries only
// a random token; KeyHash is SHA-256 of it, so a copy of the database holds
// no usable session cookies.
type SessionRecord struct {
	KeyHash   []byte
	Data      []byte
	CreatedAt time.Time
	SeenAt    time.Time
}

// TokenCacheStore keeps each session's token cache (MSAL's, for calling
// Microsoft Graph as the signed-in person), already sealed by the caller:
// the store sees only ciphertext. A session's cache goes when the session
// does (sign-out, expiry, pruning).
type TokenCacheStore interface {
	// GetTokenCache returns the sealed cache of the session keyHash, or
	// ENOTFOUND when it has none.
	GetTokenCache(ctx context.Context, keyHash []byte) ([]byte, error)
	// PutTokenCache creates or replaces it; ENOTFOUND when there is no
	// such session (it ended meanwhile: the tokens must not outlive it).
	PutTokenCache(ctx context.Context, keyHash, sealed []byte) error
}

// SessionStore keeps server-side sessions.
type SessionStore interface {
	// GetSession returns the session with keyHash, or an ENOTFOUND error.
	GetSession(ctx context.Context, keyHash []byte) (SessionRecord, error)
	// GetSessionAndHead is GetSession, and tenant's audit head (as
	// Inventory.InventoryChanges reads it; tenant is not zero) from the
	// same statement: a request's session and whether its tenant's list
	// moved, in one database round trip.
	GetSessionAndHead(ctx context.Context, keyHash []byte, tenant GUID) (SessionRecord, int64, error)
	// PutSession creates or replaces a session. Replacing keeps the
	// creation time: the absolute timeout counts from it.
	PutSession(ctx context.Context, s SessionRecord) error
	// DeleteSession removes a session; removing a missing one is not an error.
	DeleteSession(ctx context.Context, keyHash []byte) error
	// DeleteSessionsSeenBefore removes sessions idle since before t and
	// reports how many went.
	DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error)
}

// SignIn is a sign-in under way: kept in the browser's pre-login session
// (only State travels in the URL) and used once.
// SignInLifetime bounds how long a sign-in may take between leaving the
// portal and coming back: a pending sign-in older than this is refused
// and forgotten.
const SignInLifetime = 10 * time.Minute

type SignIn struct {
	State    string
	Nonce    string
	Verifier string // PKCE code verifier
	ReturnTo string // a same-origin path, already checked
	Started  time.Time
	// MaxAge, when set, asked the provider for an authentication no older
	// than this (a fresh sign-in before a destructive act).
	MaxAge time.Duration
	// For is who asked for that fresh sign-in: the confirmation they
	// left is given back only to the same person.
	For User
}

// Authenticator signs people in with an OpenID Connect provider (Entra ID).
type Authenticator interface {
	// BeginSignIn returns the provider URL to send the browser to and the
	// SignIn to keep in the session until the callback. maxAge > 0 asks
	// the provider for an authentication at most that old (the person
	// signs in again); 0 for an ordinary sign-in.
	BeginSignIn(ctx context.Context, loginHint, returnTo string, maxAge time.Duration) (redirect string, s SignIn, err error)
	// CompleteSignIn checks the callback's query against s, redeems the code
	// and verifies the ID token. Failures are EUNAUTHORIZED (or EUNAVAILABLE
	// when the provider cannot be reached). The tokens, if any (Graph on),
	// are for KeepTokens once the new session exists.
	CompleteSignIn(ctx context.Context, query url.Values, s SignIn) (User, SignInTokens, error)
	// KeepTokens files a sign-in's tokens under its session (sealed).
	KeepTokens(ctx context.Context, sessionKeyHash []byte, t SignInTokens) error
	// GraphToken is a Microsoft Graph access token as the signed-in person
	// u of that session; EUNAVAILABLE when names are off, EUNAUTHORIZED when
	// the session holds no usable tokens.
	GraphToken(ctx context.Context, sessionKeyHash []byte, u User) (string, error)
	// ForgetTokens drops whatever the authenticator holds in memory for a
	// session that ended (its stored tokens go with the session).
	ForgetTokens(sessionKeyHash []byte)
	// EndSessionURL is where to send the browser after the portal's own
	// session has ended, or "" when unknown.
	EndSessionURL(ctx context.Context, postLogout string) string
}
