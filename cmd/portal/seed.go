package main

import (
	"context"
	"errors"
	"net/url"

	"github.com/teamsphone/portal/internal/access"
	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/portal"
)

// The calling-client apps offered by name in dev mode, with fixed IDs so that
// tests and demos can name them. In Contoso (devgraph.go) Desktop is
// consented for everyone, Mobile has no service principal, the Kiosk has
// one but no consent, and the Softphone pilot is consented by Alice alone.
var (
	appDesktop   = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	appMobile    = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
	appKiosk     = portal.MustParseGUID("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c16")
	appPilot     = portal.MustParseGUID("b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d17")
	devKnownApps = []portal.KnownApp{{ID: appDesktop, Name: "Contoso Agent Desktop"}, {ID: appMobile, Name: "Contoso Agent Mobile"},
		{ID: appKiosk, Name: "Contoso Kiosk"}, {ID: appPilot, Name: "Contoso Softphone (pilot)"}}
)

// seedAssignment is one demo assignment: in ACS, and maybe in the inventory.
type seedAssignment struct {
	tenant    portal.GUID
	object    string
	spelling  string
	clients   []portal.GUID
	label     string
	inventory bool
	// drift, if set, replaces the client IDs in ACS after adoption, as a
	// change made behind the portal's back would.
	drift []portal.GUID
}

var devSeed = []seedAssignment{
	// Known to the inventory.
	{tenant: devidp.ContosoTenant, object: "e5b7f628-ea94-4fdc-b3d9-1af1fe231111", spelling: "user", clients: []portal.GUID{appDesktop}, label: "Alice Smith, London desk", inventory: true},
	{tenant: devidp.ContosoTenant, object: "4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01", spelling: "user", clients: []portal.GUID{appDesktop, appMobile}, label: "Bruno Costa, Lisbon", inventory: true},
	{tenant: devidp.ContosoTenant, object: "7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02", spelling: "user", clients: []portal.GUID{appMobile}, label: "Chen Wei, field agent", inventory: true, drift: []portal.GUID{appDesktop, appMobile}},
	{tenant: devidp.ContosoTenant, object: "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03", spelling: "teamsResourceAccount", label: "Main line auto attendant", inventory: true},
	{tenant: devidp.FabrikamTenant, object: "5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f04", spelling: "user", clients: []portal.GUID{appDesktop}, label: "Fabrikam agent", inventory: true},
	// Access that cannot work (readiness, devgraph.go): a disabled person,
	// one without Teams Phone, a resource account bound to another ACS
	// resource, one without a number, one on Microsoft's auto attendant app.
	{tenant: devidp.ContosoTenant, object: devGita, spelling: "user", clients: []portal.GUID{appDesktop}, label: "Gita Rao, on leave", inventory: true},
	{tenant: devidp.ContosoTenant, object: devHana, spelling: "user", clients: []portal.GUID{appDesktop}, label: "Hana Sato, new starter", inventory: true},
	{tenant: devidp.ContosoTenant, object: devOldIVR, spelling: "teamsResourceAccount", label: "Old IVR line", inventory: true},
	{tenant: devidp.ContosoTenant, object: devOverflow, spelling: "teamsResourceAccount", label: "Overflow line", inventory: true},
	{tenant: devidp.ContosoTenant, object: devFrontDesk, spelling: "teamsResourceAccount", label: "Front desk auto attendant", inventory: true},
	// In ACS only: made before the portal, to be found and adopted.
	{tenant: devidp.ContosoTenant, object: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05", spelling: "user", clients: []portal.GUID{appDesktop}},
	{tenant: devidp.ContosoTenant, object: "8f7e6d5c-4b3a-4291-8f0e-d9c8b7a6f506", spelling: "resourceAccount"},
	{tenant: devidp.FabrikamTenant, object: "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a07", spelling: "user", clients: []portal.GUID{appMobile}},
}

var errHasData = errors.New("the inventory has rows")

// seedDev fills a brand-new dev instance with demo data: a few assignments
// the inventory knows (one of them changed in ACS behind its back, to show
// drift after "Verify now"), and a few only ACS holds, to look up and
// adopt. The inventory rows are adopted through the use case, so they are
// audited like any other. An instance that has data is left alone.
func seedDev(ctx context.Context, store portal.Store, emu *acsemu.Emulator, emuURL string, service *access.Service) error {
	if len(emu.All()) > 0 {
		return nil
	}
	for _, t := range []portal.GUID{devidp.ContosoTenant, devidp.FabrikamTenant} {
		// The first row answers the question: stop reading there.
		err := store.AllItems(ctx, t, func(portal.InventoryItem) error { return errHasData })
		if errors.Is(err, errHasData) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	u, err := url.Parse(emuURL)
	if err != nil {
		return err
	}
	host := u.Hostname()
	strs := func(ids []portal.GUID) []string {
		var out []string
		for _, id := range ids {
			out = append(out, id.String())
		}
		return out
	}
	for _, a := range devSeed {
		if err := emu.Seed(acsemu.Stored{Host: host, TenantID: a.tenant, ObjectID: portal.MustParseGUID(a.object), PrincipalType: a.spelling, ClientIDs: strs(a.clients)}); err != nil {
			return err
		}
	}
	for _, a := range devSeed {
		if !a.inventory {
			continue
		}
		who := access.Who{User: portal.User{TenantID: a.tenant, Roles: []portal.Role{portal.RoleAdmin}}, System: "dev seed"}
		if _, err := service.Adopt(ctx, who, access.AdoptRequest{ObjectID: portal.MustParseGUID(a.object), Label: a.label, Justification: "Demo data for portal dev"}); err != nil {
			return err
		}
		if a.drift != nil {
			if err := emu.Seed(acsemu.Stored{Host: host, TenantID: a.tenant, ObjectID: portal.MustParseGUID(a.object), PrincipalType: a.spelling, ClientIDs: strs(a.drift)}); err != nil {
				return err
			}
		}
	}
	return nil
}
