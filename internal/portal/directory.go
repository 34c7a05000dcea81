package portal

import "context"

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
}
