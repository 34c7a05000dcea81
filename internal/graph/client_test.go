package graph_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/teamsphone/portal/internal/acsemu"
	"github.com/teamsphone/portal/internal/graph"
	"github.com/teamsphone/portal/internal/graphemu"
	"github.com/teamsphone/portal/internal/portal"
)

var (
	contoso  = portal.MustParseGUID("1c361ff7-fb44-4685-bb78-1bad6ce5bef3")
	fabrikam = portal.MustParseGUID("97cd3c2e-7c4c-44e0-8c3e-22865289e758")
	alice    = portal.MustParseGUID("e5b7f628-ea94-4fdc-b3d9-1af1fe231111")
	bruno    = portal.MustParseGUID("4b7f3b1e-2f0c-4e6a-9d0c-5a1b2c3d4e01")
	gone     = portal.MustParseGUID("7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e02")
	room     = portal.MustParseGUID("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c03")
	appA     = portal.MustParseGUID("83ecbc78-e1ba-4e8f-a454-5483ef618061")
	appB     = portal.MustParseGUID("9215f754-3568-4bed-baa4-455c404e6140")
	acsID    = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
)

const (
	everything = "contoso-all"
	usersOnly  = "contoso-users"
	other      = "fabrikam-all"
)

func newGraph(t *testing.T) (*graph.Client, *graphemu.Emulator) {
	t.Helper()
	all := []string{"User.ReadBasic.All", "TeamsResourceAccount.Read.All", "Application.Read.All"}
	emu := graphemu.New(graphemu.Config{Verify: graphemu.StaticTokens(map[string]graphemu.Grant{
		everything: {Tenant: contoso, Scopes: all},
		usersOnly:  {Tenant: contoso, Scopes: []string{"User.ReadBasic.All"}},
		other:      {Tenant: fabrikam, Scopes: all},
	})})
	t.Cleanup(emu.Close)
	emu.Seed(contoso, []graphemu.User{
		{ID: alice, DisplayName: "Alice Smith", UserPrincipalName: "alice@contoso.test"},
		{ID: bruno, DisplayName: `Bruno <b>"Costa"</b>`, UserPrincipalName: "bruno@contoso.test"},
		{ID: gone, DisplayName: "Chen Wei", UserPrincipalName: "chen@contoso.test", Deleted: true},
	}, []graphemu.ResourceAccount{
		{ID: room, DisplayName: "Main line", UserPrincipalName: "main@contoso.test", AppID: appA, PhoneNumber: "tel:+14255550100", ACSResourceID: acsID},
	}, []graphemu.ServicePrincipal{
		{ID: portal.MustParseGUID("5d6e7f8a-9b0c-4d1e-8f2a-3b4c5d6e7f04"), AppID: appA, DisplayName: "Contoso Agent Desktop"},
	})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return graph.New(srv.URL, nil), emu
}

func TestSearchUsers(t *testing.T) {
	c, _ := newGraph(t)
	ctx := context.Background()
	got, err := c.SearchUsers(ctx, everything, "ali", 10)
	if err != nil || len(got) != 1 || got[0].ObjectID != alice || got[0].Label() != "Alice Smith" || got[0].UPN != "alice@contoso.test" {
		t.Fatalf("SearchUsers(ali) = %+v, %v", got, err)
	}
	// By UPN, and by a whole object ID; a deleted person is not found.
	if got, _ := c.SearchUsers(ctx, everything, "bruno@", 10); len(got) != 1 || got[0].ObjectID != bruno {
		t.Errorf("by UPN: %+v", got)
	}
	if got, _ := c.SearchUsers(ctx, everything, alice.String(), 10); len(got) != 1 || got[0].ObjectID != alice {
		t.Errorf("by ID: %+v", got)
	}
	if got, err := c.SearchUsers(ctx, everything, "chen", 10); err != nil || len(got) != 0 {
		t.Errorf("a deleted person: %+v, %v", got, err)
	}
	// A quote in the search cannot break out of the term.
	if _, err := c.SearchUsers(ctx, everything, `ali" OR "displayName:`, 10); err != nil {
		t.Errorf("a quote in the search: %v", err)
	}
	// Names come back as they are: escaping is the page's job.
	if got, _ := c.SearchUsers(ctx, everything, "bruno", 10); len(got) != 1 || got[0].DisplayName != `Bruno <b>"Costa"</b>` {
		t.Errorf("HTML in a name: %+v", got)
	}
	// Another tenant's token sees none of Contoso's people.
	if got, err := c.SearchUsers(ctx, other, "ali", 10); err != nil || len(got) != 0 {
		t.Errorf("Fabrikam searching: %+v, %v", got, err)
	}
}

func TestResolve(t *testing.T) {
	c, _ := newGraph(t)
	ids := []portal.GUID{alice, bruno, gone, portal.MustParseGUID("00000000-0000-4000-8000-000000000001")}
	// More than one call's worth: resolved in chunks.
	for i := range 1500 {
		ids = append(ids, portal.MustParseGUID(fmt.Sprintf("00000000-0000-4000-9000-%012d", i)))
	}
	got, err := c.Resolve(context.Background(), everything, ids)
	if err != nil || len(got) != 2 || got[alice].DisplayName != "Alice Smith" || got[bruno].UPN != "bruno@contoso.test" {
		t.Fatalf("Resolve = %+v, %v; want alice and bruno only (the deleted and unknown left out)", got, err)
	}
	if got, _ := c.Resolve(context.Background(), other, []portal.GUID{alice}); len(got) != 0 {
		t.Errorf("Fabrikam resolves Contoso's person: %+v", got)
	}
}

func TestResourceAccountsAndApps(t *testing.T) {
	c, _ := newGraph(t)
	ctx := context.Background()
	got, err := c.ResourceAccounts(ctx, everything, acsID)
	if err != nil || len(got) != 1 || got[0].Phone != "+14255550100" || got[0].Kind != portal.KindResourceAccount || got[0].AppID != appA {
		t.Fatalf("ResourceAccounts = %+v, %v", got, err)
	}
	if got, _ := c.ResourceAccounts(ctx, everything, "11111111-2222-4333-8444-555555555555"); len(got) != 0 {
		t.Errorf("another ACS resource's accounts: %+v", got)
	}
	if name, found, err := c.AppName(ctx, everything, appA); err != nil || !found || name != "Contoso Agent Desktop" {
		t.Errorf("AppName(appA) = %q, %v, %v", name, found, err)
	}
	if _, found, err := c.AppName(ctx, everything, appB); err != nil || found {
		t.Errorf("an app without a service principal: found %v, %v", found, err)
	}
}

// What Graph refuses becomes an error a person can act on, coded so the
// portal falls back to IDs.
func TestGraphFailures(t *testing.T) {
	c, emu := newGraph(t)
	ctx := context.Background()
	if _, err := c.ResourceAccounts(ctx, usersOnly, acsID); portal.ErrorCode(err) != portal.EFORBIDDEN {
		t.Errorf("without consent: %v, want forbidden", err)
	}
	if _, err := c.SearchUsers(ctx, "not-a-token", "ali", 10); portal.ErrorCode(err) != portal.EUNAUTHORIZED {
		t.Errorf("a bad token: %v, want unauthorized", err)
	}
	emu.Script(acsemu.Fault{Status: 429, RetryAfter: "7"})
	_, err := c.SearchUsers(ctx, everything, "ali", 10)
	var ge *graph.Error
	if portal.ErrorCode(err) != portal.ETHROTTLED || !asGraphError(err, &ge) || ge.RetryAfter.Seconds() != 7 {
		t.Errorf("throttled: %v, want throttled with Retry-After 7 s", err)
	}
	emu.Script(acsemu.Fault{Status: 503})
	if _, err := c.Resolve(ctx, everything, []portal.GUID{alice}); portal.ErrorCode(err) != portal.EUNAVAILABLE {
		t.Errorf("unavailable: %v", err)
	}
}

func asGraphError(err error, target **graph.Error) bool { return errors.As(err, target) }
