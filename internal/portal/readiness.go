package portal

import (
	"context"
	"errors"
	"time"
)

// Access in ACS is necessary, not sufficient: a chain of consents, bindings
// and licences around each assignment must also hold for it to work. A
// Check is one link of that chain, as the portal last saw it.

// CheckState is what a check found.
type CheckState string

const (
	// CheckPass: the link holds.
	CheckPass CheckState = "pass"
	// CheckFail: the link is broken, and the portal saw it broken.
	CheckFail CheckState = "fail"
	// CheckUnknown: the portal could not look (a permission it lacks, a
	// service that did not answer). Never reported as pass or fail.
	CheckUnknown CheckState = "unknown"
)

// Label is the state as people read it.
func (s CheckState) Label() string {
	switch s {
	case CheckPass:
		return "Pass"
	case CheckFail:
		return "Fail"
	}
	return "Unknown"
}

// Check is one link of the chain and what the portal found.
type Check struct {
	Name  string // stable key, e.g. "acs-access"
	Title string // what holds when it passes, e.g. "The portal can call the ACS API"
	State CheckState
	// Reason says what was found and, when not pass, why: for unknown,
	// why the portal could not look and what would let it.
	Reason string
	// Fix is what to do when it fails, for people: a role to assign, a
	// command to run, a link to open; "" when it passes.
	Fix string
	// Link, when set, is a page that applies the fix (an admin-consent
	// URL): pages offer it to open.
	Link string
	// Items are the objects a check found wanting (people, accounts),
	// each with its own problem and fix, when there are any.
	Items     []CheckItem
	CheckedAt time.Time
}

// CheckItem is one object a check found wanting.
type CheckItem struct {
	ObjectID GUID
	Kind     PrincipalKind
	Label    string // its name, else its UPN, else ""
	Problem  string
	// Fix is what to do for this object: commands filled in with its
	// values, one per line.
	Fix string
	// Consent says the portal can fix it itself by granting access (a
	// resource account bound here without server consent); Revoke that
	// access it holds cannot work and may be revoked.
	Consent, Revoke bool
}

// ACSRefused reports whether err says that ACS refused the portal itself
// (HTTP 401 or 403: its credential, its role on the ACS resource, or the
// subscription's gating), as opposed to failing or refusing one request,
// and what an administrator must do about it. The ACS adapter's errors
// say so by their Refused and Remedy methods.
func ACSRefused(err error) (refused bool, remedy string) {
	var r interface {
		Refused() bool
		Remedy() string
	}
	if errors.As(err, &r) && r.Refused() {
		return true, r.Remedy()
	}
	return false, ""
}

// ACSFirstPartyAppID is the application ID of Azure Communication Services'
// first-party app, to which calling-client apps are granted
// TeamsExtension.ManageCalls: without its service principal in a tenant,
// no consent to it can be given there.
var ACSFirstPartyAppID = MustParseGUID("1fd5118e-2576-4263-8130-9503064c837a")

// ManageCallsScope is the delegated permission a calling-client app needs
// on the ACS first-party app.
const ManageCallsScope = "TeamsExtension.ManageCalls"

// Microsoft's own apps a resource account may use: calls to such an
// account go to Teams (an auto attendant, a call queue), never to ACS.
var (
	AutoAttendantAppID = MustParseGUID("ce933385-9390-45d1-9512-c8d228074e07")
	CallQueueAppID     = MustParseGUID("11cd3e2e-fccb-42ad-ad00-878b93575e07")
)

// ReadinessDirectory reads the links around assignments from Microsoft
// Graph, on the signed-in person's delegated token for their own tenant.
// A read the token may not make is an EFORBIDDEN error whose message
// names the permission (and, for resource accounts, the Teams
// administrator role) that would allow it; Graph throttling is
// ETHROTTLED, Graph failing EUNAVAILABLE. The checks then say unknown.
type ReadinessDirectory interface {
	// ServicePrincipal returns the tenant's service principal of the app
	// appID; found is false when the tenant has none.
	// GET /servicePrincipals(appId='{appID}'); Application.Read.All.
	ServicePrincipal(ctx context.Context, token string, appID GUID) (sp ServicePrincipal, found bool, err error)
	// PermissionGrants returns the delegated permission grants that the
	// service principal client holds on the service principal resource
	// (object IDs). GET /oauth2PermissionGrants?$filter=clientId eq … and
	// resourceId eq …; DelegatedPermissionGrant.Read.All (or
	// Directory.Read.All).
	PermissionGrants(ctx context.Context, token string, client, resource GUID) ([]PermissionGrant, error)
	// Users returns what the directory says of each of ids that it holds:
	// an ID absent from the map is not in the directory (deleted, or never
	// there). GET /users?$filter=id in (…)&$select=id,accountEnabled,
	// assignedPlans (batched); User.Read.All.
	Users(ctx context.Context, token string, ids []GUID) (map[GUID]UserState, error)
	// TeamsResourceAccounts lists every Teams resource account of the
	// tenant, bound to any ACS resource or none (beta GET
	// /admin/teams/resourceAccounts, paged); TeamsResourceAccount.Read.All,
	// and the person must be a Teams administrator. Enabled comes from the
	// users (as Users reads it, so User.Read.All too): an account Entra no
	// longer holds is not enabled.
	TeamsResourceAccounts(ctx context.Context, token string) ([]TeamsResourceAccount, error)
}

// ServicePrincipal is an app's presence in a tenant.
type ServicePrincipal struct {
	ObjectID, AppID GUID
	DisplayName     string
	Enabled         bool // accountEnabled: a disabled one issues no tokens
}

// PermissionGrant is one delegated permission grant
// (oauth2PermissionGrant).
type PermissionGrant struct {
	// AllPrincipals is admin consent for every user of the tenant; else
	// the grant is one user's own (Principal), PrincipalID.
	AllPrincipals bool
	PrincipalID   GUID
	Scopes        []string // the scope string split at spaces
}

// UserState is what readiness needs to know of a person in the directory.
type UserState struct {
	ObjectID GUID
	Enabled  bool // accountEnabled
	// TeamsPhone is whether an enabled Teams Phone service plan (MCOEV) is
	// among the person's assigned plans.
	TeamsPhone bool
}

// TeamsResourceAccount is a Teams resource account as Teams sees it.
type TeamsResourceAccount struct {
	ObjectID      GUID
	UPN           string
	DisplayName   string
	AppID         GUID   // the app the account is for (Microsoft's for AA/CQ)
	ACSResourceID string // the immutable ID of the ACS resource it is bound to; "" when none
	PhoneNumber   string // E.164; "" when none
	Enabled       bool   // the account's accountEnabled
}
