package graphemu

import (
	"bytes"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/portal"
)

// User is a person in a tenant's directory.
type User struct {
	ID                portal.GUID
	DisplayName       string
	UserPrincipalName string
	Mail              string // "" is answered as null, as Graph does for a user without a mailbox
	// Deleted users are in Entra's recycle bin: no call returns them (GET
	// answers 404, getByIds leaves them out), as with real deleted users.
	Deleted bool
	// Disabled is accountEnabled false: the person cannot sign in. The zero
	// value is an enabled account, as nearly every account is.
	Disabled bool
	// AssignedPlans are the service plans of the person's licences, as
	// Graph's assignedPlans lists them (returned only on $select, and only
	// to a token that may read full profiles).
	AssignedPlans []AssignedPlan
}

// AssignedPlan is one service plan of a licence (Graph's assignedPlan).
type AssignedPlan struct {
	ServicePlanID portal.GUID
	Service       string // e.g. "MCOEV"
	// CapabilityStatus is "Enabled", "Warning", "Suspended", "Deleted" or
	// "LockedOut"; only an enabled plan works.
	CapabilityStatus string
	AssignedDateTime time.Time // zero is written as 2024-01-01T00:00:00Z
}

// ResourceAccount is a Teams resource account. In Entra it is also a user
// object, so the emulator returns it from the user calls too (list, search,
// GET by ID, getByIds with type "user"), without a mail, as Graph does.
type ResourceAccount struct {
	ID                portal.GUID
	DisplayName       string
	UserPrincipalName string
	AppID             portal.GUID
	// PhoneNumber is as Graph returns it, a tel: URI ("tel:+14255550100");
	// "" is answered as null.
	PhoneNumber string
	// ACSResourceID is the immutable ID (a GUID string) of the ACS resource
	// the account is bound to; "" is answered as null.
	ACSResourceID string
	// Disabled is the account's accountEnabled false, read from the user
	// calls (the resource account list does not carry it).
	Disabled bool
}

// ServicePrincipal is an app's service principal in a tenant.
type ServicePrincipal struct {
	ID          portal.GUID
	AppID       portal.GUID
	DisplayName string
	Disabled    bool // accountEnabled false: it issues no tokens
}

// PermissionGrant is a delegated permission grant (oauth2PermissionGrant):
// the client service principal may call the resource service principal's
// API with Scope, for every user (ConsentType "AllPrincipals", admin
// consent) or for one (ConsentType "Principal", PrincipalID).
type PermissionGrant struct {
	ID          portal.GUID // Graph's is an opaque string; a GUID here
	ClientID    portal.GUID // the client's service principal (object ID)
	ResourceID  portal.GUID // the API's service principal (object ID)
	ConsentType string
	PrincipalID portal.GUID // zero for AllPrincipals
	Scope       string      // space-separated, e.g. "TeamsExtension.ManageCalls"
}

// directory is one tenant's data. An object ID is in at most one of the
// maps: in Entra an ID names one directory object.
type directory struct {
	users    map[portal.GUID]User
	accounts map[portal.GUID]ResourceAccount
	sps      map[portal.GUID]ServicePrincipal
	// grants are not directory objects: their IDs are their own.
	grants map[portal.GUID]PermissionGrant
	// withheld are permissions the tenant's admin has not consented to:
	// taken out of every token of the tenant (see Withhold).
	withheld []string
}

// directoryLocked returns tenant's directory, creating it if asked; nil if
// it does not exist and create is false.
func (e *Emulator) directoryLocked(tenant portal.GUID, create bool) *directory {
	d := e.tenants[tenant]
	if d == nil && create {
		d = &directory{
			users:    map[portal.GUID]User{},
			accounts: map[portal.GUID]ResourceAccount{},
			sps:      map[portal.GUID]ServicePrincipal{},
			grants:   map[portal.GUID]PermissionGrant{},
		}
		e.tenants[tenant] = d
	}
	return d
}

// forget removes id from every map, before an Add puts it in one.
func (d *directory) forget(id portal.GUID) bool {
	_, u := d.users[id]
	_, a := d.accounts[id]
	_, s := d.sps[id]
	delete(d.users, id)
	delete(d.accounts, id)
	delete(d.sps, id)
	return u || a || s
}

// mustIDs panics on a zero tenant or ID: seeding one is a bug in the test
// or the dev wiring, and a zero GUID must never name anything.
func mustIDs(what string, tenant, id portal.GUID) {
	if tenant.IsZero() || id.IsZero() {
		panic("graphemu: " + what + " needs a tenant and an ID")
	}
}

// AddUser creates or replaces a user in tenant's directory (any object of
// another kind with the same ID is replaced). It panics if the tenant or
// u.ID is zero.
func (e *Emulator) AddUser(tenant portal.GUID, u User) {
	mustIDs("AddUser", tenant, u.ID)
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.directoryLocked(tenant, true)
	d.forget(u.ID)
	d.users[u.ID] = u
}

// DeleteUser deletes a user the way Entra does, into the recycle bin: it
// stays in the directory with Deleted set, and no call returns it. A
// resource account (also a user) is removed outright. It reports whether
// tenant had a user or resource account id that was not already deleted.
func (e *Emulator) DeleteUser(tenant, id portal.GUID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.directoryLocked(tenant, false)
	if d == nil {
		return false
	}
	if _, ok := d.accounts[id]; ok {
		delete(d.accounts, id)
		return true
	}
	u, ok := d.users[id]
	if !ok || u.Deleted {
		return false
	}
	u.Deleted = true
	d.users[id] = u
	return true
}

// AddResourceAccount creates or replaces a Teams resource account in
// tenant's directory (any object of another kind with the same ID is
// replaced). It panics if the tenant or a.ID is zero.
func (e *Emulator) AddResourceAccount(tenant portal.GUID, a ResourceAccount) {
	mustIDs("AddResourceAccount", tenant, a.ID)
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.directoryLocked(tenant, true)
	d.forget(a.ID)
	d.accounts[a.ID] = a
}

// AddServicePrincipal creates or replaces a service principal in tenant's
// directory. A tenant has at most one per app, so one with the same AppID
// (or any object with the same ID) is replaced. It panics if the tenant,
// sp.ID or sp.AppID is zero.
func (e *Emulator) AddServicePrincipal(tenant portal.GUID, sp ServicePrincipal) {
	mustIDs("AddServicePrincipal", tenant, sp.ID)
	mustIDs("AddServicePrincipal", tenant, sp.AppID)
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.directoryLocked(tenant, true)
	for id, old := range d.sps {
		if old.AppID == sp.AppID {
			delete(d.sps, id)
		}
	}
	d.forget(sp.ID)
	d.sps[sp.ID] = sp
}

// AddPermissionGrant creates or replaces (by ID) a delegated permission
// grant in tenant. A zero g.ID gets a new one; the ID is returned. It
// panics if the tenant, ClientID or ResourceID is zero: Graph refuses such
// a grant, and seeding one is a bug. That the service principals exist is
// not checked here (the state route checks it).
func (e *Emulator) AddPermissionGrant(tenant portal.GUID, g PermissionGrant) portal.GUID {
	mustIDs("AddPermissionGrant", tenant, g.ClientID)
	mustIDs("AddPermissionGrant", tenant, g.ResourceID)
	if g.ID.IsZero() {
		g.ID = portal.MustParseGUID(newGUID())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.directoryLocked(tenant, true).grants[g.ID] = g
	return g.ID
}

// RemoveObject removes any object (user, resource account, service
// principal) from tenant's directory outright, as if it never existed (for
// a user, unlike DeleteUser, which keeps it in the recycle bin). It reports
// whether there was one.
//
// Removing a service principal removes its grants too, as Entra does.
func (e *Emulator) RemoveObject(tenant, id portal.GUID) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.directoryLocked(tenant, false)
	return d != nil && d.remove(id)
}

// remove removes any object outright, and a service principal's grants.
func (d *directory) remove(id portal.GUID) bool {
	if _, ok := d.sps[id]; ok {
		for gid, g := range d.grants {
			if g.ClientID == id || g.ResourceID == id {
				delete(d.grants, gid)
			}
		}
	}
	return d.forget(id)
}

// Withhold makes every token of tenant lack perms (short names, such as
// "User.Read.All"), as if the tenant's admin had never consented to them
// or had revoked consent: a call needing one answers 403
// Authorization_RequestDenied, unless the token holds another permission
// that allows it too (Directory.Read.All allows most reads). It replaces
// what was withheld before; no perms restores them all.
func (e *Emulator) Withhold(tenant portal.GUID, perms ...string) {
	mustIDs("Withhold", tenant, tenant)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.directoryLocked(tenant, true).withheld = slices.Clone(perms)
}

// withoutWithheldLocked returns scopes less what tenant withholds.
func (e *Emulator) withoutWithheldLocked(tenant portal.GUID, scopes []string) []string {
	d := e.directoryLocked(tenant, false)
	if d == nil || len(d.withheld) == 0 {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), func(s string) bool { return hasAnyScope([]string{s}, d.withheld) })
}

// Seed adds users, resource accounts and service principals to tenant's
// directory, as the Add methods do, in that order.
func (e *Emulator) Seed(tenant portal.GUID, users []User, accounts []ResourceAccount, sps []ServicePrincipal) {
	for _, u := range users {
		e.AddUser(tenant, u)
	}
	for _, a := range accounts {
		e.AddResourceAccount(tenant, a)
	}
	for _, sp := range sps {
		e.AddServicePrincipal(tenant, sp)
	}
}

// person is a user object as the user calls see it: a user that is not
// deleted, or a resource account.
type person struct {
	id                portal.GUID
	displayName       string
	userPrincipalName string
	mail              string
	enabled           bool
	plans             []AssignedPlan
}

// personLocked looks up a live user object by ID.
func (d *directory) personLocked(id portal.GUID) (person, bool) {
	if d == nil {
		return person{}, false
	}
	if u, ok := d.users[id]; ok && !u.Deleted {
		return person{u.ID, u.DisplayName, u.UserPrincipalName, u.Mail, !u.Disabled, slices.Clone(u.AssignedPlans)}, true
	}
	if a, ok := d.accounts[id]; ok {
		return person{id: a.ID, displayName: a.DisplayName, userPrincipalName: a.UserPrincipalName, enabled: !a.Disabled}, true
	}
	return person{}, false
}

// peopleLocked returns every live user object, ordered by ID. Graph does not
// promise an order; a fixed one keeps paging by "after this ID" stable.
func (d *directory) peopleLocked() []person {
	if d == nil {
		return nil
	}
	out := make([]person, 0, len(d.users)+len(d.accounts))
	for id := range d.users {
		if p, ok := d.personLocked(id); ok {
			out = append(out, p)
		}
	}
	for id := range d.accounts {
		if p, ok := d.personLocked(id); ok {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b person) int { return bytes.Compare(a.id[:], b.id[:]) })
	return out
}

// accountsLocked returns the resource accounts, ordered by ID.
func (d *directory) accountsLocked() []ResourceAccount {
	if d == nil {
		return nil
	}
	out := make([]ResourceAccount, 0, len(d.accounts))
	for _, a := range d.accounts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b ResourceAccount) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// personByUPNLocked finds a live user object by userPrincipalName, which
// Graph accepts in place of the ID in /users/{id | userPrincipalName}.
func (d *directory) personByUPNLocked(upn string) (person, bool) {
	for _, p := range d.peopleLocked() {
		if strings.EqualFold(p.userPrincipalName, upn) {
			return p, true
		}
	}
	return person{}, false
}
