package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/teamsphone/portal/internal/devidp"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

// devTokenCacheKey seals dev sessions' Graph tokens. A constant on purpose:
// dev sessions outlive restarts, and so must the key that opens them.
var devTokenCacheKey = []byte("teams-phone-portal-dev-cache-key")

// graphScopes are the delegated Graph permissions a sign-in asks for when
// names are on: people's names (User.ReadBasic.All), resource accounts and
// their numbers (TeamsResourceAccount.Read.All, beta), app names
// (Application.Read.All). What a tenant has not consented to fails alone.
var graphScopes = []string{graph.ScopeUsers, graph.ScopeResourceAccounts, graph.ScopeApps}

// parseWithheld reads -graph-withhold: short names of graphScopes.
func parseWithheld(v string) ([]string, error) {
	short := map[string]string{"users": graph.ScopeUsers, "resourceaccounts": graph.ScopeResourceAccounts, "apps": graph.ScopeApps}
	var out []string
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		scope, ok := short[strings.ToLower(name)]
		if !ok {
			return nil, fmt.Errorf("unknown permission %q: use users, resourceAccounts or apps", name)
		}
		out = append(out, scope)
	}
	return out, nil
}

// devACSResourceID stands for the emulated ACS resource's immutable ID,
// which resource accounts are bound to.
const devACSResourceID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"

// startDevGraph serves the Graph emulator on its own loopback port with the
// dev tenants' directory, checking bearer tokens against the dev IdP's.
// Permissions in withheld are taken out of every token, as in a tenant
// whose admin has not consented to them.
func startDevGraph(idp *devidp.IdP, withheld []string, logger *slog.Logger) (*graphemu.Emulator, string, func(), error) {
	emu := graphemu.New(graphemu.Config{Logger: logger, Verify: func(_ *http.Request, token string) (portal.GUID, []string, error) {
		g, ok := idp.AccessToken(token, time.Now())
		if !ok {
			return portal.GUID{}, nil, errors.New("not a token the dev IdP issued, or expired")
		}
		return g.Tenant, slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return slices.Contains(withheld, s) }), nil
	}})
	seedDevDirectory(emu)
	url, stop, err := serveLoopback(withFaultSwitch(emu, emu.SetRates), emu.Close)
	if err != nil {
		return nil, "", nil, err
	}
	return emu, url, stop, nil
}

// seedDevDirectory names the dev personas and the seeded assignments'
// people and resource accounts. Chen Wei has left (deleted), and the
// mobile app has no service principal in Contoso: both show what the
// portal flags. Eve's name carries markup; the Sales line is bound to
// another ACS resource.
func seedDevDirectory(emu *graphemu.Emulator) {
	users := map[portal.GUID][]graphemu.User{}
	for _, p := range devidp.Personas() {
		users[p.TenantID] = append(users[p.TenantID], graphemu.User{ID: p.ObjectID, DisplayName: p.Name, UserPrincipalName: p.LoginHint})
	}
	u := func(id, name, upn string) graphemu.User {
		return graphemu.User{ID: portal.MustParseGUID(id), DisplayName: name, UserPrincipalName: upn}
	}
	contoso, fabrikam := devidp.ContosoTenant, devidp.FabrikamTenant
	chen := u("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02", "Chen Wei", "chen.wei@contoso.test")
	chen.Deleted = true
	emu.Seed(contoso, append(users[contoso],
		u("e5b7f628-ea94-4fdc-b3d9-1af1fe231111", "Alice Smith", "alice.smith@contoso.test"),
		u("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01", "Bruno Costa", "bruno.costa@contoso.test"),
		chen,
		u("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c05", "Dana Park", "dana.park@contoso.test"),
		// A name with markup in it, as anyone may set their own: pages
		// must show it as text.
		u("3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a08", `Eve <img src=x onerror=alert(1)>`, "eve@contoso.test"),
	), []graphemu.ResourceAccount{
		{ID: portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03"), DisplayName: "Main line auto attendant", UserPrincipalName: "mainline@contoso.test",
			AppID: appDesktop, PhoneNumber: "tel:+14255550100", ACSResourceID: devACSResourceID},
		{ID: portal.MustParseGUID("8f7e6d5c-4b3a-4291-8f0e-d9c8b7a6f506"), DisplayName: "Support queue", UserPrincipalName: "support@contoso.test",
			AppID: appDesktop, PhoneNumber: "tel:+14255550101", ACSResourceID: devACSResourceID},
		// Bound to another ACS resource: the picker leaves it out.
		{ID: portal.MustParseGUID("6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c09"), DisplayName: "Sales line (other ACS resource)", UserPrincipalName: "sales@contoso.test",
			AppID: appDesktop, PhoneNumber: "tel:+14255550102", ACSResourceID: "99999999-8888-4777-8666-555555555555"},
	}, []graphemu.ServicePrincipal{
		{ID: portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000001"), AppID: appDesktop, DisplayName: "Contoso Agent Desktop"},
	})
	emu.Seed(fabrikam, append(users[fabrikam],
		u("5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f04", "Farah Khan", "farah.khan@fabrikam.test"),
		u("1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a07", "Felix Braun", "felix.braun@fabrikam.test"),
	), nil, []graphemu.ServicePrincipal{
		{ID: portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000002"), AppID: appDesktop, DisplayName: "Contoso Agent Desktop"},
		{ID: portal.MustParseGUID("c0ffee00-0000-4000-8000-000000000003"), AppID: appMobile, DisplayName: "Contoso Agent Mobile"},
	})
}
