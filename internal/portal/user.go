package portal

import (
	"context"
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
func RolesFromClaim(values []string) []Role {
	var out []Role
	for _, r := range AllRoles {
		if slices.Contains(values, string(r)) {
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
	// AuthTime is when the person last proved who they are to Entra.
	AuthTime time.Time
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

// SessionRecord is a server-side session as stored. The cookie carries only
// a random token; KeyHash is SHA-256 of it, so a copy of the database holds
// no usable session cookies.
type SessionRecord struct {
	KeyHash   []byte
	Data      []byte
	CreatedAt time.Time
	SeenAt    time.Time
}

// SessionStore keeps server-side sessions.
type SessionStore interface {
	// GetSession returns the session with keyHash, or an ENOTFOUND error.
	GetSession(ctx context.Context, keyHash []byte) (SessionRecord, error)
	// PutSession creates or replaces a session.
	PutSession(ctx context.Context, s SessionRecord) error
	// DeleteSession removes a session; removing a missing one is not an error.
	DeleteSession(ctx context.Context, keyHash []byte) error
	// DeleteSessionsSeenBefore removes sessions idle since before t and
	// reports how many went.
	DeleteSessionsSeenBefore(ctx context.Context, t time.Time) (int, error)
}
