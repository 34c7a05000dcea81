package graphemu

import (
	"net/http"
	"testing"

	"github.com/teamsphone/portal/internal/portal"
)

// TestOneObjectPerID: adding an object with an ID another kind already has
// replaces it, as one ID names one directory object in Entra.
func TestOneObjectPerID(t *testing.T) {
	h := newHarness(t)
	// Alice's ID becomes a resource account: she leaves the users (by mail)
	// and appears among the resource accounts.
	h.emu.AddResourceAccount(tenantA, ResourceAccount{ID: alice, DisplayName: "Alice Line", UserPrincipalName: "ra_alice@contoso.com"})
	p := decodePage(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody(nil, alice.String())))
	if len(p.Value) != 1 || p.Value[0]["displayName"] != "Alice Line" || p.Value[0]["mail"] != nil {
		t.Errorf("getByIds after replacement: %v", p.Value)
	}
	p = decodePage(t, h.get("/beta/admin/teams/resourceAccounts", tokenA, false))
	if len(p.Value) != 3 {
		t.Errorf("resource accounts: %v", p.ids())
	}
}

// TestServicePrincipalPerApp: a tenant has one service principal per app.
func TestServicePrincipalPerApp(t *testing.T) {
	h := newHarness(t)
	newSP := portal.MustParseGUID("30000000-0000-4000-8000-000000000002")
	h.emu.AddServicePrincipal(tenantA, ServicePrincipal{ID: newSP, AppID: appID, DisplayName: "Renamed"})
	res := h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')?$select=id,displayName", tokenA, false)
	if res.status != http.StatusOK || string(res.body) != `{"@odata.context":"`+h.srv.URL+`/v1.0/$metadata#servicePrincipals(id,displayName)/$entity","id":"`+newSP.String()+`","displayName":"Renamed"}` {
		t.Errorf("status %d: %s", res.status, res.body)
	}
	p := decodePage(t, h.post("/v1.0/directoryObjects/getByIds", tokenA, getByIDsBody(nil, spID.String())))
	if len(p.Value) != 0 {
		t.Errorf("the replaced service principal is still there: %v", p.Value)
	}
}

// TestRemoveObject: removal is outright, for any kind, in one tenant only.
func TestRemoveObject(t *testing.T) {
	h := newHarness(t)
	if h.emu.RemoveObject(tenantB, line) {
		t.Error("removed tenant A's account through tenant B")
	}
	for _, id := range []portal.GUID{line, spID, dave} {
		if !h.emu.RemoveObject(tenantA, id) {
			t.Errorf("RemoveObject(%s) = false", id)
		}
	}
	if h.emu.RemoveObject(tenantA, line) {
		t.Error("removed twice")
	}
	p := decodePage(t, h.get("/beta/admin/teams/resourceAccounts", tokenA, false))
	if got := p.ids(); len(got) != 1 || got[0] != line2.String() {
		t.Errorf("resource accounts: %v", got)
	}
	expectError(t, h.get("/v1.0/servicePrincipals(appId='"+appID.String()+"')", tokenA, false), http.StatusNotFound, "Request_ResourceNotFound", "")
	// A removed deleted user cannot be deleted again either.
	if h.emu.DeleteUser(tenantA, dave) {
		t.Error("DeleteUser of a removed user reports a deletion")
	}
}

// TestSeedRefusesZeroIDs: a zero tenant or ID is a bug in the caller.
func TestSeedRefusesZeroIDs(t *testing.T) {
	emu := New(Config{})
	for name, add := range map[string]func(){
		"zero tenant":  func() { emu.AddUser(portal.GUID{}, User{ID: alice}) },
		"zero user":    func() { emu.AddUser(tenantA, User{}) },
		"zero account": func() { emu.AddResourceAccount(tenantA, ResourceAccount{}) },
		"zero sp app":  func() { emu.AddServicePrincipal(tenantA, ServicePrincipal{ID: spID}) },
		"zero sp id":   func() { emu.AddServicePrincipal(tenantA, ServicePrincipal{AppID: appID}) },
		"seeded zero":  func() { emu.Seed(tenantA, []User{{}}, nil, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			add()
		})
	}
}
