package portal

import (
	"context"
	"time"
)

// DirectoryEntry is what Microsoft Graph says about an object the portal
// shows by ID: a person, a Teams resource account, or an app. Names are for
// display only; identity is always the ObjectID.
type DirectoryEntry struct {
	ObjectID    GUID
	Kind        PrincipalKind // KindUser or KindResourceAccount; KindUnknown for an app
	DisplayName string
	UPN         string // userPrincipalName
	// Phone is a resource account's number (E.164, "+14255550100"), if
	// Graph reports one.
	Phone string
	// AppID is a resource account's or a service principal's application.
	AppID GUID
}

// Label is how pages name the entry: its display name, else its UPN.
func (e DirectoryEntry) Label() string {
	if e.DisplayName != "" {
		return e.DisplayName
	}
	return e.UPN
}

// Directory finds and names directory objects through Microsoft Graph, on
// the signed-in person's delegated token (Authenticator.GraphToken).
type Directory interface {
	// SearchUsers finds people whose name or UPN starts a word with q (a
	// whole object ID finds that person), at most limit.
	SearchUsers(ctx context.Context, token, q string, limit int) ([]DirectoryEntry, error)
	// Resolve names the users (resource accounts among them: Entra keeps
	// those as users) among ids. An ID Graph does not return — deleted, or
	// never there — is absent from the map.
	Resolve(ctx context.Context, token string, ids []GUID) (map[GUID]DirectoryEntry, error)
	// ResourceAccounts lists the tenant's Teams resource accounts bound to
	// the ACS resource with immutable ID acsResourceID ("": any), with
	// their phone numbers.
	ResourceAccounts(ctx context.Context, token, acsResourceID string) ([]DirectoryEntry, error)
	// AppName names a calling-client app by its service principal in the
	// token's tenant; found is false when the tenant has none.
	AppName(ctx context.Context, token string, appID GUID) (name string, found bool, err error)
}

// NameSpace says what kind of ID a cached name belongs to. Object IDs and
// application IDs are different namespaces in Entra.
type NameSpace string

const (
	// SpaceObject: a user's or resource account's object ID (an
	// assignment's principal).
	SpaceObject NameSpace = "object"
	// SpaceApp: a calling-client app's application (client) ID.
	SpaceApp NameSpace = "app"
)

// DirectoryName is what the portal last learned from Microsoft Graph about
// an ID it shows, cached so that pages name people without asking Graph
// every time, and so that names survive Graph being unavailable.
type DirectoryName struct {
	TenantID GUID
	Space    NameSpace
	ID       GUID
	// Found is false when Graph had no such object at FetchedAt: a person
	// deleted from the directory, or an app without a service principal in
	// the tenant (its users cannot get a token for it). An object that was
	// found before keeps the names (and kind, and number) it was last found
	// with: the portal knew it (see Presence).
	Found       bool
	Kind        PrincipalKind // SpaceObject: KindUser or KindResourceAccount when known
	DisplayName string
	UPN         string
	Phone       string // a resource account's number, when known
	FetchedAt   time.Time
}

// Label is how pages name the ID: its display name, else its UPN; "" when
// never fetched or never found (for an object not found now, the name it
// was last found with).
func (n DirectoryName) Label() string {
	if n.DisplayName != "" {
		return n.DisplayName
	}
	return n.UPN
}

// Known reports whether the name was ever fetched.
func (n DirectoryName) Known() bool { return !n.FetchedAt.IsZero() }

// NameStore caches directory names, per tenant: names fetched with one
// tenant's tokens are never read for another.
type NameStore interface {
	// PutNames records what Graph said, replacing what was cached for the
	// same (tenant, space, ID). Every name must be of tenant. When any name
	// changed, in its content (Found, Kind, DisplayName, UPN, Phone) or only
	// in its FetchedAt (as stored: to the millisecond), the tenant's names
	// revision increases, once per call, and every name the call changed
	// carries the new revision (see NamesSince). A call that changes
	// nothing (the same content fetched at the same time) writes nothing
	// and leaves the revision. A name of another tenant, or without a known
	// space, ID or kind, is EINVALID, and nothing is written.
	PutNames(ctx context.Context, tenant GUID, names []DirectoryName) error
	// Names returns the cached names of ids in space; an ID never fetched
	// is absent from the map, which is never nil.
	Names(ctx context.Context, tenant GUID, space NameSpace, ids []GUID) (map[GUID]DirectoryName, error)
	// AllNames calls fn for every cached name of tenant in space, in ID
	// order, from one snapshot held until it returns (fn should be quick);
	// an error from fn stops it and is returned as is.
	AllNames(ctx context.Context, tenant GUID, space NameSpace, fn func(DirectoryName) error) error
	// SearchNames returns up to limit names of tenant in space whose
	// display name or UPN contains q, compared case-insensitively
	// (Unicode-aware) and literally (no wildcards), ordered by the
	// case-folded display name, then ID. A negative limit means no limit.
	SearchNames(ctx context.Context, tenant GUID, space NameSpace, q string, limit int) ([]DirectoryName, error)
	// NamesRevision is the tenant's names revision: 0 before any name was
	// put, larger after every PutNames that changed a name (content or
	// FetchedAt). Caches compare it to know whether names moved, across
	// instances.
	NamesRevision(ctx context.Context, tenant GUID) (int64, error)
	// NamesSince calls fn, in no particular order, for every cached name
	// of tenant, in both spaces, that a PutNames raising the revision past
	// after wrote, as it is now; and returns the revision those names are
	// current at: the tenant's NamesRevision in the same snapshot (after
	// itself when nothing moved past it). Names and revision are read from
	// one snapshot: a copy that
	// held every name as of revision after holds every name as of rev once
	// it has applied them, and a name put later raises the revision past
	// rev, so NamesSince(rev) returns it. Names last written before the
	// store kept a revision per name are at revision 0: a copy loaded with
	// AllNames continues from the NamesRevision it read before loading,
	// and a negative after returns every name, with the revision to
	// continue from. As AllNames, the snapshot is held until it returns
	// (fn should be quick), and an error from fn stops it and is returned
	// as is (rev 0).
	NamesSince(ctx context.Context, tenant GUID, after int64, fn func(DirectoryName) error) (rev int64, err error)
}
